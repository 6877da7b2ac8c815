"""Node ``select``: learn Q from the last actions (MSGD or SARSA), then choose the next ones."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import timed
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import rng_for
from flowpo.graphs.state import OptimizerState
from flowpo.operators.actions import bind
from flowpo.operators.base import LABEL_PREFIX
from flowpo.search.objective import objective
from flowpo.search.policy import QTable, learn, sample_actions, section_credit


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
            bind(s, op, q.operators)
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

