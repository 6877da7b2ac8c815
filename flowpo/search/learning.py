"""How the operator selector learns from the outcome of its actions (PromptFlow eq. 3, 5, 7).

MSGD scales an action's Q by the relative score change of the child prompt; MSGD-RL
updates it with SARSA. The paper rewards every action of an epoch with the epoch's mean
gain; flowpo's default credits each action with its own gain and pairs it with the action
actually taken next from the prompt it made (``sarsa_credit="action"``), so an operator's
outcomes move its own probability. The paper's form stays available (``"epoch"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowpo.search.policy import Q_FLOOR, QTable

SCORE_EPS = 1e-8
"""The paper's MSGD denominator floor: a parent score of 0 divides by this."""
MAX_STEP = 2.0
"""SARSA's trust region: one update changes Q by at most this factor (see sarsa_update)."""


def msgd_update(
    q: QTable,
    section: str,
    operator: str,
    parent_score: float,
    child_score: float,
    alpha: float = 1.0,
    *,
    floor: float = SCORE_EPS,
) -> float:
    """Apply the MSGD update ``Q <- Q * (1 + alpha * Norm)`` (PromptFlow eq. 3, appendix).

    ``Norm = (child - parent) / max(|parent|, floor)`` is the relative score gain. The
    paper divides by the parent score alone (``floor=SCORE_EPS``), so a parent that scores
    0 (every generation task starts there) turns one gain of 0.03 into a factor of
    3 million; the loop passes ``floor = 1/|train|``, the smallest score step the reward
    set can show, so a one-example gain from nothing doubles Q. The result is clamped to
    ``Q_FLOOR`` (1e-6) so a large negative ``alpha * Norm`` cannot flip Q's sign.

    Returns:
        The new Q(section, operator), also stored in ``q``.
    """
    denom = max(abs(parent_score), floor)
    norm = (child_score - parent_score) / denom
    new = max(Q_FLOOR, q.get(section, operator) * (1.0 + alpha * norm))
    q.set(section, operator, new)
    return new


def sarsa_update(
    q: QTable,
    s: str,
    a: str,
    reward: float,
    s_next: str,
    a_next: str,
    alpha: float = 0.5,
    gamma: float = 0.5,
    *,
    next_table: QTable | None = None,
    max_step: float | None = MAX_STEP,
) -> float:
    """Apply SARSA: ``Q(s,a) += alpha (R + gamma Q(s',a') - Q(s,a))`` (PromptFlow eq. 5/7).

    Q doubles as a selection weight of the order of ``1/cells`` (~0.01-0.1), while an
    action's own gain is an accuracy change measured on a minibatch (often +-0.3). Unbounded,
    one unlucky outcome drives Q below zero, so to ``Q_FLOOR``, and the operator is never
    drawn again except by exploration (measured: the frame cell, whose edits made the best
    prompt, at 1e-6 after one bad screen). ``max_step`` bounds one update to a factor
    (``old / max_step <= new <= old * max_step``), a trust region: one outcome halves or
    doubles a weight at most, and a later good outcome can bring it back. The paper's
    appendix steps are well inside it; ``None`` gives the unbounded rule.

    Args:
        q: Table updated in place.
        s: Section of the action taken.
        a: Operator of the action taken.
        reward: R, the epoch reward (see :func:`epoch_reward`).
        s_next: Section of the next action.
        a_next: Operator of the next action.
        alpha: Learning rate (0.5 in the paper's example).
        gamma: Discount (0.5 in the paper's example).
        next_table: Table to read Q(s',a') from (the next state's table); defaults to ``q``.
        max_step: Largest factor one update may change Q by (``None``: unbounded).

    Returns:
        The new Q(s, a), clamped to ``Q_FLOOR`` since Q doubles as a selection weight.
    """
    q_next = (q if next_table is None else next_table).get(s_next, a_next)
    old = q.get(s, a)
    new = old + alpha * (reward + gamma * q_next - old)
    if max_step is not None:
        new = min(max(new, old / max_step), old * max_step)
    new = max(Q_FLOOR, new)
    q.set(s, a, new)
    return new

def epoch_reward(gains: list[float]) -> float:
    """Return R, the mean score gain of the epoch's sampled actions (0.0 for none)."""
    return sum(gains) / len(gains) if gains else 0.0


def learn_msgd(
    q: QTable, actions: Sequence[Mapping[str, Any]], *, alpha: float = 1.0, floor: float = SCORE_EPS
) -> None:
    """Apply MSGD (eq. 3) to each evaluated action, before the next actions are drawn."""
    _add_rows(q, actions)
    for a in actions:
        parent = float(a.get("parent_score") or 0.0)
        msgd_update(
            q, a["section"], a["operator"], parent, parent + a["gain"], alpha=alpha, floor=floor
        )


def next_action(action: Mapping[str, Any], plan: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """Return (s', a') for SARSA: the action taken next from the prompt ``action`` made.

    That is the first planned action whose parent is the action's child; failing that, the
    first planned action on the same section; failing that, the action itself.
    """
    child = action.get("candidate_id")
    for rule in (
        lambda p: child is not None and p.get("parent_id") == child,
        lambda p: p["section"] == action["section"],
    ):
        step = next((p for p in plan if rule(p)), None)
        if step is not None:
            return step["section"], step["operator"]
    return action["section"], action["operator"]


def learn_sarsa(
    q: QTable,
    actions: Sequence[Mapping[str, Any]],
    plan: Sequence[Mapping[str, Any]],
    *,
    credit: str = "action",
    alpha: float = 0.5,
    gamma: float = 0.5,
) -> None:
    """Apply SARSA (eq. 5/7) to each evaluated action, given the actions planned next.

    ``credit="action"``: R is the action's own gain and (s', a') its :func:`next_action`.
    ``credit="epoch"``: the paper's form, R is the epoch's mean gain for every action and
    (s', a') the planned actions in turn.
    """
    if not actions:
        return
    _add_rows(q, [*actions, *plan])
    mean = epoch_reward([a["gain"] for a in actions])
    for i, a in enumerate(actions):
        if credit == "epoch":
            step = plan[i % len(plan)] if plan else a
            reward, (s2, a2) = mean, (step["section"], step["operator"])
        else:
            reward, (s2, a2) = a["gain"], next_action(a, plan)
        sarsa_update(q, a["section"], a["operator"], reward, s2, a2, alpha=alpha, gamma=gamma)


def _add_rows(q: QTable, actions: Sequence[Mapping[str, Any]]) -> None:
    for a in actions:
        if a["section"] not in q.sections:
            q.add_section(a["section"])
