"""Node ``finalize``: re-rank the finalists on dev, report test once, write the result."""

from __future__ import annotations

from functools import partial
from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import emit, timed
from flowpo.config import OptimizeConfig
from flowpo.evaluation import ExampleBudget
from flowpo.graphs.resources import Resources, resources
from flowpo.graphs.state import OptimizerState, add_counts, spent_examples
from flowpo.memory.experience import remember
from flowpo.models.spec import scoring_path
from flowpo.prompt import Prompt
from flowpo.run.outputs import write_result
from flowpo.search.coherence import alike_variants, answer_words, incoherent, written_alike
from flowpo.search.scoring import split_score
from flowpo.search.selection import best, choose, wilson


async def finalize(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Choose the prompt to deploy (train and dev pooled); score it and the initial on test."""
    config = runtime.context
    res = resources(config)
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        kept = [*state.get("beam", []), state["best"], state["initial"], *state.get("reserve", [])]
        finalists = {c["id"]: c for c in kept}  # a held-back start is judged on dev too
        if config.approve:  # only prompts a human approved (or the user's own start) may win
            approved = {*state.get("approved", finalists), state["initial"]["id"]}
            finalists = {k: c for k, c in finalists.items() if k in approved}
        ranked = [await _on_split(res, c, "dev", update["budget"]) for c in finalists.values()]
        w = config.soft_weight  # the same objective as the search, on dev
        start_id = state["initial"]["id"]  # the user's own prompt is the reference, not refused
        stale = [
            c["id"] for c in ranked
            if c["id"] != start_id and incoherent(Prompt.from_dict(c["prompt"]), res.task)
        ]
        deployable = [c for c in ranked if c["id"] not in stale] or ranked
        n_train, n_dev = len(res.task.split("train")), len(res.task.splits.get("dev") or [])
        alike = partial(_alike, res.task)
        # The best finalist gets its words written alike before the tie-break prefers
        # words written alike: else a weaker prompt wins on its casing alone.
        variants: list[dict[str, Any]] = []
        if ExampleBudget(config.budget_examples, spent_examples(state)).fits(2 * n_train):
            top = best(deployable, n_train, n_dev, w)
            variants = await _written_alike(res, top, update["budget"])
        ranked = [*ranked, *variants]
        chosen = choose([*deployable, *variants], n_train, n_dev, w, alike)  # ties: alike, short
        initial = next(c for c in ranked if c["id"] == state["initial"]["id"])
        result = {**summary(state, chosen, initial, ranked), "refused_incoherent": stale}
        result["dev_interval"] = list(wilson(chosen["val_score"] or 0.0, n_dev))
        result["scoring"] = scoring_path(config.model, program=config.program)
        if config.evaluate_test:
            for key, cand in (("initial", initial), ("final", chosen)):
                scored = await _on_split(res, cand, "test", update["budget"])
                result[key]["test"] = scored["test_score"]
    result["budget"] = add_counts(state.get("budget"), update["budget"])
    if res.memory is not None:
        read = res.memory.read_log
        result["memory_read"] = len(read.records) if read is not None else 0
        result["memory_records"] = remember(
            res.memory, dict(state), task=res.task.name,
            description=res.task.description or res.task.name, run=res.run_dir.name,
            model=config.model, chosen=chosen,
        )
    start = Prompt.from_dict(state["initial"]["prompt"])
    write_result(
        res.run_dir, Prompt.from_dict(chosen["prompt"]), start, result, chosen["id"],
        list(state.get("history", [])), template=res.task.template,
        verbalizers=res.task.verbalizers,
    )
    emit(runtime, "done", result=result)
    update["result"] = result
    return update


def summary(
    state: OptimizerState,
    chosen: dict[str, Any],
    initial: dict[str, Any],
    ranked: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return the run's result: the initial and chosen prompts' scores, finalists, usage."""
    return {
        "chosen_id": chosen["id"],
        "stop_reason": state.get("stop_reason"),
        "epochs": state.get("epoch", 0),
        "initial": {"train": initial["train_score"], "dev": initial["val_score"]},
        "final": {"train": chosen["train_score"], "dev": chosen["val_score"]},
        "finalists": [
            {"id": c["id"], "train": c["train_score"], "dev": c["val_score"]} for c in ranked
        ],
        "operator_usage": state.get("usage", {}),
        "warm_start": state.get("warm_start", []),
    }


def _alike(task: Any, cand: dict[str, Any]) -> bool:
    return written_alike(answer_words(Prompt.from_dict(cand["prompt"]), task).values())


async def _written_alike(
    res: Resources, cand: dict[str, Any], budget: dict[str, float]
) -> list[dict[str, Any]]:
    """Return ``cand`` with its label words written alike, scored on train and dev.

    Label words fitted on a few train examples can mix cases (``Negative``/``positive``):
    the case shifts the target's prior between labels, a bias fitted to those examples,
    and not how a person writes answer words. The variants join the finalists, and
    ``choose`` prefers them when they score within the noise of the mixed words.
    """
    out = []
    task = res.task
    train = task.split("train")
    for i, prompt in enumerate(alike_variants(Prompt.from_dict(cand["prompt"]), task)):
        outcome = await split_score(res.evaluator, {"prompt": prompt.to_dict()}, train)
        budget["examples_scored"] = budget.get("examples_scored", 0) + outcome.model_calls
        trial = {
            **cand, "id": f"{cand['id']}-alike{i}", "parent_id": cand["id"],
            "prompt": prompt.to_dict(), "train_score": outcome.score,
            "train_soft": float(outcome.details.get("soft_score", 0.0)),
            "per_label": outcome.details.get("per_label", {}),
            "fingerprint": prompt.fingerprint(task.template, task.verbalizers),
            "near_key": prompt.near_key(task.template, task.verbalizers),
        }
        out.append(await _on_split(res, trial, "dev", budget))
    return out


async def _on_split(
    res: Resources, cand: dict[str, Any], split: str, budget: dict[str, float]
) -> dict[str, Any]:
    """Return ``cand`` with its score on ``split`` (dev: ``val_score``/``val_soft``)."""
    outcome = await split_score(res.evaluator, cand, res.task.split(split))
    key = f"{split}_examples_scored"
    budget[key] = budget.get(key, 0) + outcome.model_calls
    budget["examples_cached"] = budget.get("examples_cached", 0) + outcome.cached
    soft = float(outcome.details.get("soft_score", 0.0))
    if split == "dev":
        return {**cand, "val_score": outcome.score, "val_soft": soft}
    return {**cand, f"{split}_score": outcome.score}
