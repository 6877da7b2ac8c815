"""Published prompt optimizers re-implemented on flowpo's evaluator (for the benchmark).

Each baseline takes a :class:`~flowpo.baselines.common.Search` (the evaluator, the
operator LM and a budget of target-LM example evaluations), stops within the budget and
returns the prompt it chose on dev. ``BASELINES`` maps their names to their entry points.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from flowpo.baselines.ape import run_ape
from flowpo.baselines.common import BaselineResult, Search, Trial
from flowpo.baselines.opro import run_opro
from flowpo.baselines.protegi import run_protegi
from flowpo.baselines.simple import run_fewshot, run_manual
from flowpo.evaluation import BudgetSpent

Baseline = Callable[[Search], Awaitable[BaselineResult]]

BASELINES: dict[str, Baseline] = {
    "manual": run_manual,
    "fewshot": run_fewshot,
    "ape": run_ape,
    "opro": run_opro,
    "protegi": run_protegi,
}
"""Baselines by name; ``manual`` and ``fewshot`` search nothing (no budget spent)."""

NEEDS_LLM = frozenset({"ape", "opro", "protegi"})
"""Baselines that call the operator LM."""

__all__ = [
    "BASELINES",
    "NEEDS_LLM",
    "Baseline",
    "BaselineResult",
    "BudgetSpent",
    "Search",
    "Trial",
]
