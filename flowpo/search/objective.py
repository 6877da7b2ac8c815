"""The one objective every method maximises: the task metric plus a weighted soft score.

The soft score (mean gold-label probability) breaks ties between prompts of equal
accuracy, which on a 32-example reward set are common; ``soft_weight=0`` is the
papers' pure metric (PromptFlow Alg. 1, GFlowPO's accuracy reward).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from flowpo.types import EvalResult

DEFAULT_SOFT_WEIGHT = 0.5
"""flowpo's default weight of the soft score (``OptimizeConfig.soft_weight``)."""


def combine(metric: float | None, soft: float | None, soft_weight: float) -> float:
    """Return ``metric + soft_weight x soft`` (a missing value counts as 0)."""
    return (metric or 0.0) + soft_weight * (soft or 0.0)


def objective(c: Mapping[str, Any] | None, soft_weight: float = 0.0) -> float:
    """Return the train objective of a candidate (``train_score``, ``train_soft``)."""
    if c is None:
        return 0.0
    return combine(c.get("train_score"), c.get("train_soft"), soft_weight)


def dev_objective(c: Mapping[str, Any], soft_weight: float = 0.0) -> float:
    """Return the dev objective of a finalist (``val_score``, ``val_soft``)."""
    return combine(c.get("val_score"), c.get("val_soft"), soft_weight)


def result_objective(result: EvalResult, soft_weight: float = DEFAULT_SOFT_WEIGHT) -> float:
    """Return the objective of an evaluation result (its metric and its soft score)."""
    return combine(result.score, float(result.details.get("soft_score", 0.0)), soft_weight)


def rank(candidates: Sequence[Mapping[str, Any]], soft_weight: float = 0.0) -> list[Any]:
    """Return candidates best first by :func:`objective` (stable for ties)."""
    return sorted(candidates, key=lambda c: -objective(c, soft_weight))


def clearly_better(new: EvalResult, old: EvalResult, z: float = 2.0) -> bool:
    """Return True when ``new`` beats ``old`` on more shared examples than noise explains.

    A sign test on the examples both scored: with ``wins`` examples where ``new`` scores
    higher and ``losses`` where ``old`` does, ``new`` is clearly better when
    ``wins - losses > z * sqrt(wins + losses)`` (normal approximation; z = 2: about 95 %).

    Example:
        10 wins and 1 loss: 9 > 2 * sqrt(11) = 6.6, clearly better; 5 wins and 2 losses:
        3 < 2 * sqrt(7) = 5.3, not.
    """
    before = {e.example_id: e.score for e in old.examples}
    diffs = [e.score - before[e.example_id] for e in new.examples if e.example_id in before]
    wins, losses = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    return wins - losses > z * math.sqrt(wins + losses)
