"""Node ``reflect``: why the best prompt fails (PromptFlow's Reflection operator input)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import timed
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import resources, rng_for
from flowpo.graphs.state import OptimizerState
from flowpo.prompt import Prompt
from flowpo.search.reflection import reflect as explain
from flowpo.search.reflection import select_bad_cases


async def reflect(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Explain up to N wrong predictions of the best prompt, once per new best."""
    config = runtime.context
    best = state.get("best")
    previous = state.get("reflection") or {}
    if not best or previous.get("for_id") == best["id"] or config.reflect_cases == 0:
        return {}
    res = resources(config)
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        train = res.task.split("train")
        prompt = Prompt.from_dict(best["prompt"])
        result = await res.evaluator.aevaluate(prompt, train)  # cached: no model call
        preds = [r.prediction for r in result.examples]
        targets = [e.target for e in train]
        rng = rng_for(config, state.get("epoch", 0), "reflect")
        cases = select_bad_cases(
            res.task,
            train,
            preds,
            targets,
            config.reflect_cases,
            rng,
            scores=[r.score for r in result.examples],
            feedback=[r.feedback for r in result.examples],
        )
        reflection, calls = await explain(
            res.llm, res.task, prompt.text, cases, max_cases=config.reflect_cases
        )
        update["budget"]["llm_calls"] = calls
    update["reflection"] = {
        "for_id": best["id"],
        "reasons": reflection.reasons,
        "summary": reflection.summary,
        "bad_cases": [
            {"id": c.example.id, "prediction": c.prediction, "target": c.target} for c in cases
        ],
    }
    return update
