"""Node ``select``: learn Q from the last actions (MSGD or SARSA), then choose the next ones."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import timed
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import resources, rng_for
from flowpo.graphs.state import OptimizerState
from flowpo.operators.base import FRAME, LABEL_PREFIX, LABEL_WORDS
from flowpo.search.learning import learn_msgd, learn_sarsa
from flowpo.search.objective import objective
from flowpo.search.policy import QTable, sample_actions, section_credit


def _label_of(section: str) -> str | None:
    return section[len(LABEL_PREFIX) :] if section.startswith(LABEL_PREFIX) else None


async def select(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Learn Q from the evaluated actions and plan this epoch's (section, operator) edits.

    MSGD learns before the draw; SARSA after it, since it pairs each action with the one
    actually taken next. Only valid cells are drawn; the drawn cell is run and credited.
    """
    config = runtime.context
    res = resources(config)
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        q = QTable.from_dict(state["q"])
        beam, best = state.get("beam", []), state["best"]
        last = state.get("last_actions", [])
        floor = config.msgd_floor or 1.0 / max(1, len(res.task.split("train")))
        learns = config.selector == "learnt"  # the ablation baselines keep the prior
        if learns and config.optimizer == "msgd":
            learn_msgd(q, last, alpha=config.alpha, floor=floor)
        frozen = {s["name"] for s in best["prompt"]["sections"] if s.get("frozen")}
        rows = [s for s in q.sections if s not in frozen]
        drawn = sample_actions(
            q, config.actions_per_epoch, rng_for(config, state.get("epoch", 0), "select"),
            temperature=config.temperature, epsilon=config.epsilon, sections=rows,
            section_weights=section_credit(
                best.get("per_label") or {}, rows, _label_of, bias_rows=(FRAME, LABEL_WORDS)
            ),
            cells=res.cells(config, rows, q.operators), uniform=config.selector == "uniform",
        )
        plan = []
        for i, (section, op) in enumerate(drawn):
            parent = beam[i % len(beam)] if beam else best
            score = objective(parent, config.soft_weight)
            plan.append({"section": section, "operator": op, "parent_id": parent["id"],
                         "parent_score": score})
        if learns and config.optimizer == "msgd-rl":
            learn_sarsa(q, last, plan, credit=config.sarsa_credit, alpha=config.sarsa_alpha,
                        gamma=config.sarsa_gamma)
    update.update({"q": q.to_dict(), "plan": plan})
    return update
