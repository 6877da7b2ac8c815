"""Pure search logic of the loop: beam with simulated annealing, action credit, stopping."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

Cand = dict[str, Any]


def objective(c: Cand, soft_weight: float = 0.0) -> float:
    """Return what the search maximises: train metric + ``soft_weight`` x soft score.

    The soft score (mean gold-label probability) breaks ties between prompts of equal
    accuracy, which on a 32-example reward set are common; ``soft_weight=0`` is the
    paper's pure metric.
    """
    return (c.get("train_score") or 0.0) + soft_weight * (c.get("train_soft") or 0.0)


def rank(candidates: Sequence[Cand], soft_weight: float = 0.0) -> list[Cand]:
    """Return candidates best first by :func:`objective` (stable for ties)."""
    return sorted(candidates, key=lambda c: -objective(c, soft_weight))


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


def action_gain(action: dict[str, Any], child_score: float | None, penalty: float) -> float:
    """Return the objective change an action earned; a failed action is charged ``penalty``.

    ``parent_score`` and ``child_score`` are objectives (:func:`objective`). The charge
    is relative to the parent's, so it is on the same scale as a gain.
    """
    parent = float(action.get("parent_score") or 0.0)
    if action.get("failed") or child_score is None:
        return -penalty * max(parent, 1e-8)
    return child_score - parent


def stop_reason(
    *,
    epoch: int,
    stale: int,
    budget: dict[str, float],
    config: Any,
) -> str | None:
    """Return why the loop should stop now, or ``None`` to go on."""
    if epoch >= config.max_epochs:
        return f"max_epochs ({config.max_epochs}) reached"
    if stale >= config.patience:
        return f"converged: no train-loss gain > {config.tol} for {config.patience} epochs"
    limits = (
        ("examples_scored", config.budget_examples, "target-LM example budget"),
        ("llm_calls", config.budget_llm_calls, "operator-LM call budget"),
        ("seconds", config.budget_seconds, "wall-time budget"),
    )
    for key, limit, name in limits:
        if limit is not None and budget.get(key, 0) >= limit:
            return f"{name} spent ({budget.get(key, 0):g} >= {limit:g})"
    return None


def usage_delta(actions: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Return per-operator usage counts of evaluated actions (chosen, failed, improved, gain)."""
    out: dict[str, dict[str, float]] = {}
    for a in actions:
        row = out.setdefault(a["operator"], {"chosen": 0, "failed": 0, "improved": 0, "gain": 0.0})
        row["chosen"] += 1
        row["failed"] += int(bool(a.get("failed")))
        row["improved"] += int(a.get("gain", 0.0) > 0)
        row["gain"] += float(a.get("gain", 0.0))
    return out


def usage_table(usage: dict[str, dict[str, float]]) -> str:
    """Render the operator-usage table as aligned text."""
    lines = [f"{'operator':22} {'chosen':>6} {'failed':>6} {'improved':>8} {'mean gain':>9}"]
    for name, row in sorted(usage.items(), key=lambda kv: -kv[1].get("chosen", 0)):
        chosen = int(row.get("chosen", 0))
        mean = row.get("gain", 0.0) / chosen if chosen else 0.0
        lines.append(
            f"{name:22} {chosen:>6} {int(row.get('failed', 0)):>6} "
            f"{int(row.get('improved', 0)):>8} {mean:>+9.4f}"
        )
    return "\n".join(lines)


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
