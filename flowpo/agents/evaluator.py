"""Node ``evaluate``: score pending candidates on the train split, update beam and credit."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import emit, timed
from flowpo.agents.experience import remembered_score, split_key
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import resources, rng_for
from flowpo.graphs.state import OptimizerState, add_counts
from flowpo.prompt import Prompt
from flowpo.run.rundir import CANDIDATES, HISTORY, append_jsonl, write_atomic
from flowpo.search.beam import action_gain, advance, objective, rank, stop_reason, usage_delta
from flowpo.search.labelwords import best_label_words
from flowpo.types import EvalResult

ARCHIVE_SIZE = 24


async def evaluate(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Evaluate ``pending``; credit the actions that made them; keep the beam; check stop."""
    config = runtime.context
    res = resources(config)
    epoch = state.get("epoch", 0)
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        spent = float((state.get("budget") or {}).get("examples_scored", 0.0))
        left = None if config.budget_examples is None else config.budget_examples - spent
        scored, budget, unpaid = await _score(
            res,
            state.get("pending", []),
            config.model,
            left,
            first=epoch == 0,
            soft_weight=config.soft_weight,
        )
        update["budget"].update(budget)
        by_id = {c["id"]: c for c in scored}
        w = config.soft_weight
        actions = [  # an action whose candidate the budget could not pay for earns nothing
            _credit(a, by_id, config.failure_penalty, w)
            for a in state.get("last_actions", [])
            if a.get("candidate_id") not in unpaid
        ]
        beam, best, stale = advance(
            state.get("beam", []),
            state.get("best"),
            scored,
            state.get("stale", 0),
            epoch,
            config,
            rng_for(config, epoch, "beam"),
        )
        append_jsonl(res.run_dir / CANDIDATES, scored)
        best_dev = (
            await _best_dev(res, best, state.get("history", []), update["budget"])
            if config.track_dev
            else None
        )
    budget_now = add_counts(state.get("budget"), update["budget"])
    row = {
        "epoch": epoch,
        "best_train": best["train_score"] if best else None,
        "best_loss": 1 - best["train_score"] if best else None,
        "best_id": best and best["id"],
        "best_dev": best_dev,
        "evaluated": len(scored),
        "actions": actions,
        "budget": budget_now,
        "q": state.get("q"),  # the table that chose this epoch's actions (report heat map)
    }
    rows = [*state.get("history", []), row]
    write_atomic(res.run_dir / HISTORY, "".join(json.dumps(r) + "\n" for r in rows))
    reason = stop_reason(epoch=epoch, stale=stale, budget=budget_now, config=config)
    if unpaid and reason is None:
        reason = (
            f"target-LM example budget spent ({budget_now.get('examples_scored', 0):g} of "
            f"{config.budget_examples:g}; {len(unpaid)} candidates left unscored)"
        )
    emit(
        runtime,
        "epoch",
        epoch=epoch,
        best_train=row["best_train"],
        stale=stale,
        budget=budget_now,
        actions=[f"{a['section']}:{a['operator']}" for a in actions],
        stop_reason=reason,
    )
    update.update(
        {
            "pending": [],
            "beam": beam,
            "best": best,
            "stale": stale,
            "last_actions": actions,
            "seen": [*state.get("seen", []), *[c["near_key"] for c in scored]],
            "archive": rank([*state.get("archive", []), *scored], w)[:ARCHIVE_SIZE],
            "usage": usage_delta(actions),
            "history": [row],
            "stop_reason": reason,
        }
    )
    if epoch == 0 and scored:
        update["initial"] = scored[0]
    return update


async def _score(
    res: Any,
    pending: list[dict[str, Any]],
    model: str,
    left: float | None = None,
    *,
    first: bool = False,
    soft_weight: float = 0.5,
) -> tuple[list[dict[str, Any]], dict[str, float], set[str]]:
    """Score ``pending`` on train; return the scored, the counts and the ids left unpaid.

    With ``left`` (the target-LM examples the budget still allows) a candidate is scored
    only when its uncached train examples fit in what is left, as the baselines do, so the run
    never overshoots its budget; the initial prompt (``first``) is always scored, and a
    score reused from the memory costs nothing.
    """
    train = res.task.split("train")
    budget = {"examples_scored": 0.0, "examples_cached": 0.0, "tokens": 0.0}
    scored: list[dict[str, Any]] = []
    unpaid: set[str] = set()
    for cand in pending:
        prompt = Prompt.from_dict(cand["prompt"])
        keys = {
            "fingerprint": prompt.fingerprint(res.task.template, res.task.verbalizers),
            "near_key": prompt.near_key(res.task.template, res.task.verbalizers),
            "train_key": split_key(train),
        }
        known = remembered_score(res.memory, prompt.text, res.task.name, model, keys)
        if known is not None:
            budget["examples_from_memory"] = budget.get("examples_from_memory", 0.0) + len(train)
            scored.append({**cand, **known, **keys, "from_memory": True})
            continue
        if left is not None and not first:
            cost = res.evaluator.uncached(prompt, train)
            if budget["examples_scored"] + cost > left:
                unpaid.add(cand["id"])
                continue
        result = await res.evaluator.aevaluate(prompt, train)
        if _new_frame(cand, res):  # a frame is judged with its own best label words
            prompt, result = await _refit_words(res, prompt, result, train, soft_weight)
            keys["near_key"] = prompt.near_key(res.task.template, res.task.verbalizers)
            cand = {**cand, "prompt": prompt.to_dict()}
        budget["examples_scored"] += result.model_calls
        budget["examples_cached"] += result.cached
        budget["tokens"] += result.tokens
        scored.append(
            {
                **cand,
                **keys,
                "train_score": result.score,
                "train_soft": result.details.get("soft_score", 0.0),
                "per_label": result.details.get("per_label", {}),
                "fingerprint": result.prompt_fingerprint,
            }
        )
    return scored, budget, unpaid


def _new_frame(cand: dict[str, Any], res: Any) -> bool:
    action = list(cand.get("action") or [])
    return (
        len(action) == 2
        and action[1] == "frame"
        and res.evaluator.mode == "verbalizer"
        and hasattr(res.target, "next_token_logprobs")
    )


async def _refit_words(
    res: Any, prompt: Prompt, result: EvalResult, train: list[Any], soft_weight: float
) -> tuple[Prompt, EvalResult]:
    """Return the frame's prompt with the label words that suit it best, when they win.

    The words old frames were tuned for rarely suit a new one, so a frame scored with
    them is judged unfairly. The search reads the rows the evaluation just computed (the
    model's memo), and the refitted prompt is scored from the same rows: no extra forward
    pass (only calibration's three content-free inputs when it is on).
    """
    words = await best_label_words(res.target, res.task, prompt, train, soft_weight)
    if words == {**res.task.verbalizers, **(prompt.verbalizers or {})}:
        return prompt, result
    refit = replace(prompt, verbalizers=words)
    second = await res.evaluator.aevaluate(refit, train)
    if _objective(second, soft_weight) <= _objective(result, soft_weight):
        return prompt, result
    # both scorings are charged to the candidate
    return refit, replace(
        second,
        model_calls=second.model_calls + result.model_calls,
        cached=second.cached + result.cached,
        tokens=second.tokens + result.tokens,
    )


def _objective(result: EvalResult, soft_weight: float) -> float:
    """Return :func:`flowpo.search.beam.objective` of an evaluation result."""
    soft = result.details.get("soft_score", 0.0)
    return objective({"train_score": result.score, "train_soft": soft}, soft_weight)


def _credit(
    action: dict[str, Any], by_id: dict[str, dict[str, Any]], penalty: float, soft_weight: float
) -> dict[str, Any]:
    child = by_id.get(action.get("candidate_id") or "")
    score = objective(child, soft_weight) if child else None
    failed = bool(action.get("failed")) or child is None
    gain = action_gain({**action, "failed": failed}, score, penalty)
    return {**action, "failed": failed, "child_score": score, "gain": gain}


async def _best_dev(
    res: Any, best: dict[str, Any] | None, rows: list[dict[str, Any]], budget: dict[str, float]
) -> float | None:
    """Return the best prompt's dev score, scored once per new best (finalize reuses it)."""
    if not best or not res.task.splits.get("dev"):
        return None
    last = rows[-1] if rows else {}
    if last.get("best_id") == best["id"] and last.get("best_dev") is not None:
        return float(last["best_dev"])
    outcome = await res.evaluator.aevaluate(Prompt.from_dict(best["prompt"]), res.task.split("dev"))
    budget["dev_examples_scored"] = budget.get("dev_examples_scored", 0) + outcome.model_calls
    budget["examples_cached"] = budget.get("examples_cached", 0) + outcome.cached
    return outcome.score
