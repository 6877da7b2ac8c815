"""Node ``finalize``: re-rank the beam on dev, report test once, write the artefacts."""

from __future__ import annotations

import json
import logging
from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import emit, timed
from flowpo.agents.experience import remember
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import Resources, resources
from flowpo.graphs.state import OptimizerState, add_counts
from flowpo.prompt import Prompt
from flowpo.reporting.html import write_report
from flowpo.run.rundir import HISTORY, write_atomic, write_best

log = logging.getLogger(__name__)


async def finalize(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Choose the prompt with the best dev score; score it and the initial one on test."""
    config = runtime.context
    res = resources(config)
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        finalists = {c["id"]: c for c in [*state.get("beam", []), state["best"], state["initial"]]}
        if config.approve:  # only prompts a human approved may be chosen
            finalists = {k: c for k, c in finalists.items() if k in state.get("approved", [k])}
        ranked = []
        for cand in finalists.values():
            dev, soft = await _score(res, cand, "dev", update["budget"])
            ranked.append({**cand, "val_score": dev, "val_soft": soft})
        w = config.soft_weight  # the same objective as the search, on dev
        chosen = max(
            ranked, key=lambda c: (c["val_score"] + w * c["val_soft"], c["train_score"] or 0.0)
        )
        initial = next(c for c in ranked if c["id"] == state["initial"]["id"])
        result: dict[str, Any] = {
            "chosen_id": chosen["id"],
            "stop_reason": state.get("stop_reason"),
            "epochs": state.get("epoch", 0),
            "initial": {"train": initial["train_score"], "dev": initial["val_score"]},
            "final": {"train": chosen["train_score"], "dev": chosen["val_score"]},
            "finalists": [
                {"id": c["id"], "train": c["train_score"], "dev": c["val_score"]} for c in ranked
            ],
        }
        if config.evaluate_test:
            result["initial"]["test"] = (await _score(res, initial, "test", update["budget"]))[0]
            result["final"]["test"] = (await _score(res, chosen, "test", update["budget"]))[0]
    budget = add_counts(state.get("budget"), update["budget"])
    result.update(
        budget=budget, operator_usage=state.get("usage", {}), warm_start=state.get("warm_start", [])
    )
    if res.memory is not None:
        result["memory_records"] = remember(
            res.memory,
            dict(state),
            task=res.task.name,
            description=res.task.description or res.task.name,
            run=res.run_dir.name,
            model=config.model,
        )
    _write(res, state, chosen, result)
    emit(runtime, "done", result=result)
    update["result"] = result
    return update


async def _score(
    res: Resources, cand: dict[str, Any], split: str, budget: dict[str, float]
) -> tuple[float, float]:
    outcome = await res.evaluator.aevaluate(Prompt.from_dict(cand["prompt"]), res.task.split(split))
    budget[f"{split}_examples_scored"] = (
        budget.get(f"{split}_examples_scored", 0) + outcome.model_calls
    )
    budget["examples_cached"] = budget.get("examples_cached", 0) + outcome.cached
    return outcome.score, float(outcome.details.get("soft_score", 0.0))


def _write(
    res: Resources, state: OptimizerState, chosen: dict[str, Any], result: dict[str, Any]
) -> None:
    prompt = Prompt.from_dict(chosen["prompt"])
    start = Prompt.from_dict(state["initial"]["prompt"])
    initial = Prompt(
        start.sections,
        start.template or res.task.template,
        {**res.task.verbalizers, **(start.verbalizers or {})},
        start.calibrate,
    )
    info = {"id": chosen["id"], **result, "initial_prompt": initial.to_dict()}
    write_best(res.run_dir, prompt, info, res.task.template, res.task.verbalizers)
    rows = [*state.get("history", []), {"summary": True, **result}]
    write_atomic(
        res.run_dir / HISTORY, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )
    try:
        write_report(res.run_dir)
    except Exception:  # noqa: BLE001 - a report bug must not lose the run's result
        log.exception("report.html could not be written; run 'flowpo report %s'", res.run_dir)
