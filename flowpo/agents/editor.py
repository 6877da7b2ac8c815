"""Node ``edit``: apply the planned operators to their parents; new prompts become pending."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import new_candidate, timed
from flowpo.config import OptimizeConfig
from flowpo.errors import FlowpoError
from flowpo.graphs.resources import Resources, resources, rng_for
from flowpo.graphs.state import OptimizerState
from flowpo.memory import retriever_for
from flowpo.operators.base import BadCase, OperatorContext, OperatorResult, Reflection
from flowpo.prompt import Prompt
from flowpo.run.tracing import span
from flowpo.search.promptdiff import prompt_diff
from flowpo.types import Candidate


async def edit(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Run each planned (section, operator) on its parent; reject duplicates of seen prompts."""
    config = runtime.context
    res = resources(config)
    epoch = state.get("epoch", 0) + 1
    update: dict[str, Any] = {"budget": {"llm_calls": 0}}
    with timed(update):
        ctx = _context(state, res, config, epoch)
        known = {c["id"]: c for c in [*state.get("beam", []), state["best"]]}
        seen = set(state.get("seen", []))
        pending = list(state.get("pending", []))  # the sampler's (hybrid), if any
        actions = list(state.get("gfn_actions", []))
        for i, step in enumerate(state.get("plan", [])):
            parent = known[step["parent_id"]]
            prompt = Prompt.from_dict(parent["prompt"])
            result = await _apply(res, step, prompt, ctx)
            update["budget"]["llm_calls"] += result.llm_calls
            failed = {
                **step,
                "candidate_id": None,
                "failed": True,
                "reason": "; ".join(result.rejected) or "only prompts already scored "
                "(or near-duplicates of them)",
            }
            kept: list[dict[str, Any]] = []
            for child in result.prompts:
                key = child.near_key(res.task.template, res.task.verbalizers)
                if key in seen or len(kept) == config.children_per_action:
                    continue
                seen.add(key)
                cid = f"e{epoch}-{i}" + (f"-{len(kept)}" if kept else "")
                pending.append(
                    new_candidate(
                        child,
                        cid=cid,
                        epoch=epoch,
                        parent_id=parent["id"],
                        action=(step["section"], step["operator"]),
                    )
                )
                diff = prompt_diff(prompt, child)
                kept.append(
                    {**step, "candidate_id": cid, "failed": False, "reason": "", "diff": diff}
                )
            actions.extend(kept or [failed])
    update.update(
        {"pending": pending, "last_actions": actions, "epoch": epoch, "plan": [], "gfn_actions": []}
    )
    return update


log = logging.getLogger(__name__)


async def _apply(
    res: Resources, step: dict[str, Any], prompt: Prompt, ctx: OperatorContext
) -> OperatorResult:
    """Run one operator as a traced run named ``operator@section``.

    An unexpected error is a failed action, logged, never a crash. ``FlowpoError``s (a
    target model that failed for good, a bad setting) still stop the run: its checkpoint
    is saved and ``flowpo resume`` continues it.
    """
    name = f"{step['operator']}@{step['section']}"
    async with span(name, {**step, "parent_prompt": prompt.text}) as run:
        try:
            result = await res.operators[step["operator"]].apply(prompt, step["section"], ctx)
        except FlowpoError:
            raise
        except Exception as e:  # noqa: BLE001 - an operator bug must not end an hours-long run
            log.exception("operator %s failed on section %s", step["operator"], step["section"])
            result = OperatorResult(rejected=[f"operator error: {type(e).__name__}: {e}"])
        run.outputs = {
            "made": len(result.prompts),
            "rejected": result.rejected,
            "diffs": [prompt_diff(prompt, p) for p in result.prompts[:3]],
        }
    return result


def _context(
    state: OptimizerState, res: Resources, config: OptimizeConfig, epoch: int
) -> OperatorContext:
    train = res.task.split("train")
    by_id = {e.id: e for e in train}
    reflection = state.get("reflection") or {}
    bad = [
        BadCase(by_id[b["id"]], res.task.format_input(by_id[b["id"]]), b["prediction"], b["target"])
        for b in reflection.get("bad_cases", [])
        if b["id"] in by_id
    ]
    pool = res.task.splits.get("pool") or []
    return OperatorContext(
        task=res.task,
        llm=res.llm,
        rng=rng_for(config, epoch, "edit"),
        train=train,
        pool=list(pool),
        beam=[Candidate.from_dict(c) for c in state.get("beam", [])],
        history=[Candidate.from_dict(c) for c in state.get("archive", [])],
        bad_cases=bad,
        reflection=Reflection(reflection.get("reasons", []), reflection.get("summary", "")),
        max_section_chars=config.max_section_chars,
        max_examples_chars=config.max_examples_chars,
        target=res.target,
        retrieve=retriever_for(res.memory, kind="section", exclude_run=res.run_dir.name)
        if res.memory is not None
        else None,
        soft_weight=config.soft_weight,
        n_shots=config.n_shots,
    )
