"""When the loop stops: epochs, patience (convergence) and budgets."""

from __future__ import annotations

from typing import Any


def stop_reason(
    *,
    epoch: int,
    stale: int,
    budget: dict[str, float],
    config: Any,
    learning: bool = True,
) -> str | None:
    """Return why the loop should stop now, or ``None`` to go on.

    ``learning=False`` (a GFlowPO learner still warming up) suspends the patience stop:
    a run must not be called converged before its learner made one gradient update.
    """
    if epoch >= config.max_epochs:
        return f"max_epochs ({config.max_epochs}) reached"
    if learning and stale >= config.patience:
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


def budget_stop(reason: str | None, unpaid: int, spent: float, limit: float | None) -> str | None:
    """Return ``reason``, or the example budget's reason when candidates went unpaid."""
    if not unpaid or reason is not None:
        return reason
    return (
        f"target-LM example budget spent ({spent:g} of {limit:g}; "
        f"{unpaid} candidates left unscored)"
    )
