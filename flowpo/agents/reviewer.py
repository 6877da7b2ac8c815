"""Node ``review``: pause for a human when a new best prompt is found (``approve`` on).

The pause is LangGraph's ``interrupt()``; the decision comes back through
``Command(resume=...)`` (see :mod:`flowpo.run.approval`). A malformed decision does not fail
the run: the node asks again, with the error in the request.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from flowpo.agents.common import emit, new_candidate
from flowpo.config import OptimizeConfig
from flowpo.errors import ConfigError
from flowpo.graphs.state import OptimizerState
from flowpo.run.approval import Decision, edited_prompt, parse_decision, review_request
from flowpo.search.objective import rank


async def review(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Ask a human about a new, not yet approved best prompt; apply the answer."""
    config = runtime.context
    best = state.get("best")
    if not config.approve or best is None:
        return {}
    # The user's own start needs no approval; what epoch 0 derived from it does (its own
    # label words, a swept frame): the first best is not always the start.
    approved = list(state.get("approved") or [state["initial"]["id"]])
    if best["id"] in approved:
        return {} if state.get("approved") else {"approved": approved}
    epoch = state.get("epoch", 0)
    pool = [*state.get("archive", []), *state.get("beam", []), state["initial"]]
    previous = rank([c for c in pool if c["id"] in approved], config.soft_weight)[0]
    decision = _ask(review_request(best, previous, epoch))
    emit(runtime, "review", epoch=epoch, candidate_id=best["id"], action=decision.action)
    if decision.action == "approve":
        return {"approved": [*approved, best["id"]]}
    update: dict[str, Any] = {
        "best": previous,
        "beam": [c for c in state.get("beam", []) if c["id"] != best["id"]] or [previous],
    }
    if decision.action == "edit":
        cid = f"u{epoch}-{len(approved)}"
        prompt = edited_prompt(decision, best)
        update["pending"] = [new_candidate(prompt, cid=cid, epoch=epoch, parent_id=best["id"])]
        update["last_actions"] = []  # an edit is nobody's action: no credit to assign
        approved.append(cid)
    return {**update, "approved": approved}


def _ask(request: dict[str, Any]) -> Decision:
    while True:
        try:
            return parse_decision(interrupt(request))
        except ConfigError as e:
            request = {**request, "error": str(e)}

