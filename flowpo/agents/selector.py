"""Node ``select``: learn Q from the last actions (MSGD or SARSA), then choose the next ones."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import timed
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import rng_for
from flowpo.graphs.state import OptimizerState
from flowpo.operators.base import EXAMPLES, FRAME, LABEL_PREFIX, LABEL_WORDS, STEPS, TASK
from flowpo.operators.framing import FORMAT_OPERATORS
from flowpo.search.objective import objective
from flowpo.search.policy import QTable, learn, sample_actions, section_credit

BOUND = {"few_shot": EXAMPLES, "cot": STEPS, "gfn": TASK, **FORMAT_OPERATORS}
"""Operators that always write one particular section (or prompt part)."""
ROW_OPERATOR = {FRAME: "frame", LABEL_WORDS: "label_words"}
"""Rows only their own operators can edit: other operators drawn there are redirected."""


def _bind(section: str, op: str, available: list[str]) -> tuple[str, str]:
    """Return the action actually run for a drawn (section, operator) pair."""
    if section in ROW_OPERATOR and BOUND.get(op) != section and ROW_OPERATOR[section] in available:
        op = ROW_OPERATOR[section]
    return BOUND.get(op, section), op


def _label_of(section: str) -> str | None:
    return section[len(LABEL_PREFIX) :] if section.startswith(LABEL_PREFIX) else None


async def select(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Update Q from the evaluated actions and plan this epoch's (section, operator) edits."""
    config = runtime.context
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        q = QTable.from_dict(state["q"])
        beam, best = state.get("beam", []), state["best"]
        frozen = {s["name"] for s in best["prompt"]["sections"] if s.get("frozen")}
        rows = [s for s in q.sections if s not in frozen]
        weights = section_credit(best.get("per_label") or {}, rows, _label_of)
        rng = rng_for(config, state.get("epoch", 0), "select")
        nxt = [
            _bind(s, op, q.operators)
            for s, op in sample_actions(
                q,
                config.actions_per_epoch,
                rng,
                temperature=config.temperature,
                epsilon=config.epsilon,
                sections=rows,
                section_weights=weights,
            )
        ]
        learn(
            q,
            state.get("last_actions", []),
            nxt,
            optimizer=config.optimizer,
            alpha=config.alpha,
            sarsa_alpha=config.sarsa_alpha,
            sarsa_gamma=config.sarsa_gamma,
        )
        plan = []
        for i, (section, op) in enumerate(nxt):
            parent = beam[i % len(beam)] if beam else best
            plan.append(
                {
                    "section": section,
                    "operator": op,
                    "parent_id": parent["id"],
                    "parent_score": objective(parent, config.soft_weight),
                }
            )
    update.update({"q": q.to_dict(), "plan": plan})
    return update

