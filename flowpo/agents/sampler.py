"""Node ``sample``: train GFlowPO's prompt-LM for an epoch and propose what it found.

* ``gflowpo``: the prompt is one instruction; the queue's and the epoch's best fresh
  prompts become candidates (scored on train already: the evaluator cache makes the
  ``evaluate`` node free for them).
* ``hybrid``: only for the planned ``gfn`` actions; each action's samples are scored in
  the prompt they will be inserted into (the section of the action's own parent), the
  best new one replaces that section, and the action is credited like any operator. The
  replay buffer holds rewards measured in one context: when the parent or section changes,
  it is emptied (a reward from another prompt says nothing about this one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import emit, new_candidate, timed
from flowpo.config import OptimizeConfig
from flowpo.evaluation import ExampleBudget
from flowpo.graphs.resources import resources
from flowpo.graphs.state import OptimizerState, spent_examples
from flowpo.operators.actions import GFN
from flowpo.prompt import Prompt
from flowpo.run.rundir import GFN_ADAPTER, GFN_HISTORY, append_jsonl

Found = tuple[dict[str, Any] | None, Callable[[str], Prompt], list[tuple[str, float]]]
"""A planned action (``None`` for gflowpo), how its texts become prompts, its samples."""


async def sample(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Run the planned GFlowPO steps; return candidates and the learner state."""
    from flowpo.gfn.session import make_scorer, run_steps, sync, trainer_for  # torch: lazily
    from flowpo.gfn.settings import step_plan

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
        context = (state.get("gfn") or {}).get("context")
        before = res.evaluator.budget.as_dict()
        budget = ExampleBudget(config.budget_examples, spent_examples(state))
        train = res.task.split("train")
        per = step_plan(config, len(train))[0]
        reports: list[Any] = []
        found: list[Found] = []
        groups: list[dict[str, Any] | None] = list(steps) or [None]
        for step in groups:
            make, context = _context(state, step, trainer, context)
            score = make_scorer(res.evaluator, train, make, budget)
            done = await run_steps(trainer, score, per, budget, len(train))
            reports += done
            found.append((step, make, _fresh(done)))
        trainer.save_adapter(res.run_dir / GFN_ADAPTER)
        after = res.evaluator.budget.as_dict()
        update["budget"] = {k: float(after[k] - before[k]) for k in after}
        pending, actions = _propose(state, res, trainer, found, epoch)
    row = epoch_row(epoch, trainer, reports, _fresh(reports))
    append_jsonl(res.run_dir / GFN_HISTORY, [row])
    emit(runtime, "gfn", **{k: v for k, v in row.items() if k != "queue"})
    update.update(gfn={**trainer.state_dict(), "context": context}, pending=pending)
    if steps:
        update.update(gfn_actions=actions, plan=[p for p in plan if p["operator"] != GFN])
    else:
        update["epoch"] = epoch
        if not reports and budget.limit is not None:  # not one step fits: say so and stop
            update["sampler_stop"] = unaffordable(trainer, budget, len(train))
    return update


def unaffordable(trainer: Any, budget: ExampleBudget, reward_size: int) -> str:
    """Return the stop reason of a GFlowPO run whose budget cannot pay one sampler step."""
    from flowpo.gfn.settings import step_cost

    s = trainer.s
    cost = step_cost(s.batch_size, s.grad_accum, reward_size)
    return (
        f"target-LM example budget too small for a GFlowPO step ({budget.left or 0:g} examples "
        f"left; a step may score {s.grad_accum * s.batch_size} sampled prompts on "
        f"{reward_size} train examples = {cost}). Fix: raise --budget-examples by {cost}, or "
        "lower --gfn-batch-size / --gfn-grad-accum"
    )


def _fresh(reports: list[Any]) -> list[tuple[str, float]]:
    """Return the steps' freshly sampled (text, accuracy), best first, one per text."""
    return sorted({t: a for r in reports for t, a in r.fresh}.items(), key=lambda x: -x[1])


def _context(
    state: OptimizerState, step: dict[str, Any] | None, trainer: Any, context: str | None
) -> tuple[Callable[[str], Prompt], str | None]:
    """Return how a sampled text becomes a prompt, and the context its rewards belong to.

    ``gflowpo`` (no step): the text is the prompt. ``hybrid``: the text replaces the
    planned section of the step's parent; when that context differs from the one the
    replay rewards were measured in, the replay is emptied, and the parent's current text
    is offered to the queue so DMU sees what a sample is to replace.
    """
    if step is None:
        return Prompt.from_text, None
    parent = _known(state)[step["parent_id"]]
    base, section = Prompt.from_dict(parent["prompt"]), step["section"]
    here = f"{parent['id']}:{section}"
    if here != context:
        trainer.replay.clear()
    current = next((s.text for s in base.sections if s.name == section), "")
    trainer.queue.offer(current, parent["train_score"] or 0.0)
    return (lambda z: base.with_section(section, z)), here


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
    trainer: Any,
    found: list[Found],
    epoch: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Turn new texts into candidates.

    ``gflowpo``: the queue's and the fresh samples; ``hybrid``: the best new sample of each
    planned action, in its own parent.
    """
    seen = set(state.get("seen", []))
    pending: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for i, (step, make, fresh) in enumerate(found):
        texts = [t for t, _ in fresh] if step else [t for t, _ in trainer.queue.items]
        texts = list(dict.fromkeys([*texts, *(t for t, _ in fresh)]))
        new = [t for t in texts if _unseen(make(t), res, seen)]
        if step is None:
            pending += [new_candidate(make(t), cid=f"g{epoch}-{j}", epoch=epoch)
                        for j, t in enumerate(new)]
            continue
        action = {**step, "candidate_id": None, "failed": True, "reason": "no new sample"}
        if new:
            cid = f"g{epoch}-{i}"
            pending.append(new_candidate(make(new[0]), cid=cid, epoch=epoch,
                                         parent_id=step["parent_id"],
                                         action=(step["section"], GFN)))
            action.update(candidate_id=cid, failed=False, reason="")
        actions.append(action)
    return pending, actions


def _unseen(prompt: Prompt, res: Any, seen: set[str]) -> bool:
    key = prompt.near_key(res.task.template, res.task.verbalizers)
    if key in seen:
        return False
    seen.add(key)
    return True

