"""Node ``edit``: apply the planned operators to their parents; new prompts become pending."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import emit, new_candidate, offered_retrieval, timed
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import Resources, resources, rng_for
from flowpo.graphs.state import OptimizerState
from flowpo.memory import retriever_for
from flowpo.operators.base import BadCase, OperatorContext, Reflection
from flowpo.prompt import Prompt
from flowpo.search.editing import apply_operator, failed_action, new_children
from flowpo.search.promptdiff import prompt_diff
from flowpo.types import Candidate


async def edit(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Run each planned (section, operator) on its parent; reject duplicates of seen prompts."""
    config = runtime.context
    res = resources(config)
    epoch = state.get("epoch", 0) + 1
    update: dict[str, Any] = {"budget": {"llm_calls": 0}}
    with timed(update):
        ctx = operator_context(state, res, config, epoch)
        known = {c["id"]: c for c in [*state.get("beam", []), state["best"]]}
        seen = set(state.get("seen", []))
        pending = list(state.get("pending", []))  # the sampler's (hybrid), if any
        actions = list(state.get("gfn_actions", []))
        for i, step in enumerate(state.get("plan", [])):
            parent = known[step["parent_id"]]
            prompt = Prompt.from_dict(parent["prompt"])
            result = await apply_operator(res.operators, step, prompt, ctx)
            update["budget"]["llm_calls"] += result.llm_calls
            task, limit = res.task, config.children_per_action
            children = new_children(result.prompts, seen, limit, task.template, task.verbalizers)
            kept: list[dict[str, Any]] = []
            for j, child in enumerate(children):
                cid = f"e{epoch}-{i}" + (f"-{j}" if j else "")
                made = (step["section"], step["operator"])
                pending.append(new_candidate(child, cid=cid, epoch=epoch, parent_id=parent["id"],
                                             action=made))
                diff = prompt_diff(prompt, child)
                kept.append({**step, "candidate_id": cid, "failed": False, "reason": "",
                             "diff": diff})
            actions.extend(kept or [failed_action(step, result)])
            emit(runtime, "edited", epoch=epoch, done=i + 1, planned=len(state.get("plan", [])))
    update.update(
        {"pending": pending, "last_actions": actions, "epoch": epoch, "plan": [], "gfn_actions": []}
    )
    return update


def operator_context(
    state: OptimizerState, res: Resources, config: OptimizeConfig, epoch: int
) -> OperatorContext:
    """Return what the operators may use this epoch: data, beam, reflection, memory."""
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
        label_embed=res.label_embed(config),
        n_shots=config.n_shots,
        nearest=offered_retrieval(config, res.task),
    )
