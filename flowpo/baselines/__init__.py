"""Published prompt optimizers re-implemented on flowpo's evaluator (for the benchmark).

Each baseline takes a :class:`~flowpo.baselines.common.Search` (the evaluator, the
operator LM and a budget of target-LM example evaluations), stops within the budget and
returns the prompt it chose on dev. They are registered in :mod:`flowpo.methods` and run
from ``flowpo optimize --method opro`` like any method (:mod:`flowpo.run.baseline`).
"""

from __future__ import annotations

from flowpo.baselines.common import BaselineResult, Search, Trial
from flowpo.evaluation import BudgetSpent
from flowpo.methods import METHODS, Baseline

BASELINES: dict[str, Baseline] = {m.name: m.load() for m in METHODS.values() if not m.graph}
"""Baselines by name, a view of :data:`flowpo.methods.METHODS` (the one registry);
``manual`` and ``fewshot`` search nothing (no budget spent)."""

NEEDS_LLM = frozenset(m.name for m in METHODS.values() if not m.graph and m.needs_llm)
"""Baselines that call the operator LM (``Method.needs_llm``)."""

__all__ = [
    "BASELINES",
    "NEEDS_LLM",
    "Baseline",
    "BaselineResult",
    "BudgetSpent",
    "Search",
    "Trial",
]
