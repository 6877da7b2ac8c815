"""The beam: top-k candidates plus simulated-annealing picks (PromptFlow Alg. 1)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from flowpo.search.objective import objective, rank

Cand = dict[str, Any]


def select_beam(
    candidates: Sequence[Cand],
    k: int,
    annealing: int,
    epoch: int,
    rng: random.Random,
    *,
    t0: float = 0.05,
    decay: float = 0.8,
    soft_weight: float = 0.0,
) -> list[Cand]:
    """Keep the top-k plus ``annealing`` simulated-annealing picks (PromptFlow Alg. 1, l.14).

    A non-top candidate is picked with weight ``exp((score - best) / T)``, where
    ``T = t0 * decay**epoch`` cools over epochs: early on weaker prompts survive more
    often, which keeps the search from collapsing onto one lineage.
    """
    unique: dict[str, Cand] = {}
    for c in rank(candidates, soft_weight):
        unique.setdefault(c["id"], c)
    ordered = list(unique.values())
    top, rest = ordered[:k], ordered[k:]
    if not top or not rest or annealing <= 0:
        return top
    best = objective(top[0], soft_weight)
    temp = max(t0 * decay**epoch, 1e-6)
    picks: list[Cand] = []
    pool = list(rest)
    for _ in range(min(annealing, len(pool))):
        weights = [math.exp((objective(c, soft_weight) - best) / temp) for c in pool]
        total = sum(weights)
        if total <= 0:
            break
        pick = rng.choices(range(len(pool)), weights=weights)[0]
        picks.append(pool.pop(pick))
    return top + picks


def advance(
    beam: Sequence[Cand],
    best: Cand | None,
    scored: Sequence[Cand],
    stale: int,
    epoch: int,
    config: Any,
    rng: random.Random,
) -> tuple[list[Cand], Cand | None, int]:
    """Return the next beam, the best candidate so far and the epochs without progress.

    Progress means the best objective rose by more than ``config.tol``.
    """
    w = config.soft_weight
    new_beam = select_beam(
        [*beam, *scored], config.beam_size, config.annealing, epoch, rng, soft_weight=w
    )
    contenders = [*([best] if best else []), *scored]
    new_best = rank(contenders, w)[0] if contenders else None
    improved = new_best is not None and (
        best is None or objective(new_best, w) > objective(best, w) + config.tol
    )
    return new_beam, new_best, 0 if improved or epoch == 0 else stale + 1
