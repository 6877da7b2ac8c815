"""Node ``sample``: train GFlowPO's prompt-LM for an epoch and propose what it found.

* ``gflowpo``: the prompt is one instruction; the queue's and the epoch's best fresh
  prompts become candidates (scored on train already: the evaluator cache makes the
  ``evaluate`` node free for them).
* ``hybrid``: only for the planned ``gfn`` actions; the sampled text replaces the
  planned section of the action's parent, and the action is credited like any operator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import emit, new_candidate, timed
from flowpo.config import OptimizeConfig
from flowpo.evaluation import ExampleBudget
from flowpo.graphs.resources import resources
from flowpo.graphs.state import OptimizerState
from flowpo.operators.actions import GFN
from flowpo.prompt import Prompt
from flowpo.run.rundir import GFN_ADAPTER, GFN_HISTORY, append_jsonl


async def sample(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Run ``gfn_steps_per_epoch`` GFlowPO steps; return candidates and the learner state."""
    from flowpo.gfn.session import make_scorer, run_steps, sync, trainer_for  # torch: lazily

    config = runtime.context
    plan = state.get("plan", [])
    steps = [p for p in plan if p["operator"] == GFN]
    if not config.method_spec.instruction_only and not steps:
        return {}  # promptflow never samples; hybrid only for planned gfn actions
    res = resources(config)
    epoch = state.get("epoch", 0) + 1
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        trainer = trainer_for(config, res.task, res.memory)
        sync(trainer, state.get("gfn"), res.run_dir)
        make = _maker(state, steps, trainer)
        before = res.evaluator.budget.as_dict()
        spent = float((state.get("budget") or {}).get("examples_scored", 0.0))
        budget = ExampleBudget(config.budget_examples, spent)
        train = res.task.split("train")
        score = make_scorer(res.evaluator, train, make, budget)
        reports = await run_steps(trainer, score, config.gfn_steps_per_epoch, budget, len(train))
        trainer.save_adapter(res.run_dir / GFN_ADAPTER)
        after = res.evaluator.budget.as_dict()
        update["budget"] = {k: float(after[k] - before[k]) for k in after}
        fresh = sorted({t: a for r in reports for t, a in r.fresh}.items(), key=lambda x: -x[1])
        texts = [t for t, _ in trainer.queue.items] if not steps else []
        texts = list(dict.fromkeys([*texts, *(t for t, _ in fresh)]))
        pending, actions = _propose(state, res, texts, steps, make, epoch)
    row = epoch_row(epoch, trainer, reports, fresh)
    append_jsonl(res.run_dir / GFN_HISTORY, [row])
    emit(runtime, "gfn", **{k: v for k, v in row.items() if k != "queue"})
    update.update(gfn=trainer.state_dict(), pending=pending)
    if steps:
        update.update(gfn_actions=actions, plan=[p for p in plan if p["operator"] != GFN])
    else:
        update["epoch"] = epoch
    return update


def _maker(
    state: OptimizerState, steps: list[dict[str, Any]], trainer: Any
) -> Callable[[str], Prompt]:
    """Return how a sampled text becomes a prompt: alone (gflowpo) or in its parent (hybrid).

    In hybrid the parent's current text of the planned section is offered to the trainer's
    queue first, so DMU sees what the sample is to replace.
    """
    if not steps:
        return Prompt.from_text
    parent = _known(state)[steps[0]["parent_id"]]
    base, section = Prompt.from_dict(parent["prompt"]), steps[0]["section"]
    current = next((s.text for s in base.sections if s.name == section), "")
    trainer.queue.offer(current, parent["train_score"] or 0.0)
    return lambda z: base.with_section(section, z)


def epoch_row(
    epoch: int, trainer: Any, reports: list[Any], fresh: list[tuple[str, float]]
) -> dict[str, Any]:
    """Return the epoch's ``gfn_history.jsonl`` row (loss, log Z, fresh samples' accuracy)."""
    last = [r for r in reports if r.loss is not None]
    return {
        "epoch": epoch,
        "step": trainer.step,
        "loss": last[-1].loss if last else None,
        "log_z": trainer.log_z,
        "fresh_mean_acc": sum(a for _, a in fresh) / max(1, len(fresh)),
        "fresh_best_acc": fresh[0][1] if fresh else None,
        "queue": trainer.queue.items,
    }


def _known(state: OptimizerState) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in [*state.get("beam", []), state["best"]]}


def _propose(
    state: OptimizerState,
    res: Any,
    texts: list[str],
    steps: list[dict[str, Any]],
    make: Callable[[str], Prompt],
    epoch: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Turn new texts into candidates: all of them (gflowpo) or one per planned action."""
    seen = set(state.get("seen", []))
    fresh = []
    for text in texts:
        fp = make(text).near_key(res.task.template, res.task.verbalizers)
        if fp not in seen:
            seen.add(fp)
            fresh.append(text)
    if not steps:
        cands = [
            new_candidate(make(t), cid=f"g{epoch}-{i}", epoch=epoch) for i, t in enumerate(fresh)
        ]
        return cands, []
    pending, actions = [], []
    known = _known(state)
    for i, step in enumerate(steps):
        action = {**step, "candidate_id": None, "failed": True, "reason": "no new sample"}
        if i < len(fresh):
            parent = known[step["parent_id"]]
            prompt = Prompt.from_dict(parent["prompt"]).with_section(step["section"], fresh[i])
            cid = f"g{epoch}-{i}"
            pending.append(
                new_candidate(
                    prompt,
                    cid=cid,
                    epoch=epoch,
                    parent_id=parent["id"],
                    action=(step["section"], GFN),
                )
            )
            action.update(candidate_id=cid, failed=False, reason="")
        actions.append(action)
    return pending, actions
