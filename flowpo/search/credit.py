"""Credit for actions: what each (section, operator) edit earned, and usage counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowpo.search.objective import objective


def action_gain(action: dict[str, Any], child_score: float | None, penalty: float) -> float:
    """Return the objective change an action earned; a failed action is charged ``penalty``.

    ``parent_score`` and ``child_score`` are objectives (:func:`objective`). The charge
    is relative to the parent's, so it is on the same scale as a gain.
    """
    parent = float(action.get("parent_score") or 0.0)
    if action.get("failed") or child_score is None:
        return -penalty * max(parent, 1e-8)
    return child_score - parent


def credit(
    action: dict[str, Any], by_id: dict[str, dict[str, Any]], penalty: float, soft_weight: float
) -> dict[str, Any]:
    """Return ``action`` with its outcome: failed or not, the child's objective, its gain.

    The child is the candidate the action made (``by_id[action["candidate_id"]]``); an
    action whose candidate is missing (rejected output, unscored) failed.
    """
    child = by_id.get(action.get("candidate_id") or "")
    score = objective(child, soft_weight) if child else None
    failed = bool(action.get("failed")) or child is None
    gain = action_gain({**action, "failed": failed}, score, penalty)
    if child is not None and child.get("screened"):  # judged beside its parent on a minibatch
        gain = float(child["screen_gain"])
    return {**action, "failed": failed, "child_score": score, "gain": gain}


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
