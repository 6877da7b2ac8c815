"""Node ``evaluate``: score pending candidates on the train split, update beam and credit."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import emit, timed
from flowpo.config import OptimizeConfig
from flowpo.evaluation import ExampleBudget
from flowpo.graphs.resources import resources, rng_for
from flowpo.graphs.state import OptimizerState, add_counts, spent_examples
from flowpo.run.rundir import CANDIDATES, upsert_jsonl, write_history
from flowpo.search.beam import advance
from flowpo.search.credit import credit, usage_delta
from flowpo.search.objective import rank
from flowpo.search.scoring import best_dev, score_candidates
from flowpo.search.stopping import budget_stop, stop_reason

ARCHIVE_SIZE = 24


async def evaluate(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Evaluate ``pending``; credit the actions that made them; keep the beam; check stop."""
    config, epoch = runtime.context, state.get("epoch", 0)
    res, w = resources(config), config.soft_weight
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        budget = ExampleBudget(config.budget_examples, spent_examples(state))
        pending = state.get("pending", [])
        known = [*state.get("beam", []), *state.get("archive", []), *[state.get("best") or {}]]
        parents = {c["id"]: c for c in known if c}
        scorer = res.scorer(config)  # built once for the train and the dev scoring
        out = await score_candidates(
            scorer, pending, budget, first=epoch == 0, parents=parents,
            on_scored=lambda n, so_far: emit(
                runtime, "scored", epoch=epoch, done=n, planned=len(pending),
                budget=add_counts(state.get("budget"), so_far.counts),
            ),
        )
        full = [  # minibatch scores and held-back or superseded starts stay out of the beam
            c for c in out.candidates
            if not (c.get("screened") or c.get("held_back") or c.get("superseded"))
        ]
        update["budget"].update(out.counts)
        by_id = {c["id"]: c for c in out.candidates}
        actions = [  # an action whose candidate the budget could not pay for earns nothing
            credit(a, by_id, config.failure_penalty, w)
            for a in state.get("last_actions", [])
            if a.get("candidate_id") not in out.unpaid
        ]
        rng = rng_for(config, epoch, "beam")
        beam, best, stale = advance(
            state.get("beam", []), state.get("best"), full, state.get("stale", 0),
            epoch, config, rng,
        )
        upsert_jsonl(res.run_dir / CANDIDATES, out.candidates)  # a redone epoch replaces
        history = state.get("history", [])
        dev = None
        if config.track_dev:
            dev = await best_dev(scorer, best, history, update["budget"])
    budget_now = add_counts(state.get("budget"), update["budget"])
    row = history_row(epoch, best, dev, out.candidates, actions, budget_now, state.get("q"))
    write_history(res.run_dir, [*history, row])
    learning = sampler_learns(config, state.get("gfn"), len(res.task.split("train")))
    reason = stop_reason(
        epoch=epoch, stale=stale, budget=budget_now, config=config, learning=learning
    )
    reason = budget_stop(reason, len(out.unpaid), row["budget"].get("examples_scored", 0),
                         config.budget_examples) or state.get("sampler_stop")
    emit(runtime, "epoch", epoch=epoch, best_train=row["best_train"], stale=stale,
         budget=budget_now, actions=[f"{a['section']}:{a['operator']}" for a in actions],
         stop_reason=reason)
    seen = [*state.get("seen", []), *[c["near_key"] for c in out.candidates]]
    archive = rank([*state.get("archive", []), *full], w)[:ARCHIVE_SIZE]
    update.update(pending=[], beam=beam, best=best, stale=stale, last_actions=actions, seen=seen,
                  archive=archive, usage=usage_delta(actions), history=[row], stop_reason=reason)
    if epoch == 0 and out.candidates:
        update["initial"] = out.candidates[0]
        update["reserve"] = [c for c in out.candidates if c.get("held_back")]
    return update


def sampler_learns(config: OptimizeConfig, gfn: dict[str, Any] | None, reward_size: int) -> bool:
    """Return False while GFlowPO alone still warms up (no gradient update made yet)."""
    if not config.method_spec.instruction_only:
        return True
    from flowpo.gfn.settings import step_plan  # the gfn package loads torch

    return int((gfn or {}).get("step", 0)) > step_plan(config, reward_size)[1]


def history_row(
    epoch: int,
    best: dict[str, Any] | None,
    dev: float | None,
    scored: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    budget: dict[str, float],
    q: dict[str, Any] | None,
) -> dict[str, Any]:
    """Return the epoch's ``history.jsonl`` row."""
    return {
        "epoch": epoch,
        "best_train": best["train_score"] if best else None,
        "best_loss": 1 - best["train_score"] if best else None,
        "best_id": best and best["id"],
        "best_dev": dev,
        "evaluated": len(scored),
        "actions": actions,
        "budget": budget,
        "q": q,  # the table that chose this epoch's actions (report heat map)
    }
