"""Node ``init``: the starting prompt (manual, drafted from scratch, or a template) and Q."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import new_candidate, offered_retrieval, timed
from flowpo.config import OptimizeConfig
from flowpo.evaluation.retrieval import with_retrieval
from flowpo.graphs.resources import resources
from flowpo.graphs.state import OptimizerState
from flowpo.memory.experience import remembered_start, split_key, warm_start
from flowpo.operators.actions import GFN
from flowpo.operators.base import EXAMPLES
from flowpo.prompt import Prompt
from flowpo.search.drafting import initial_prompt, policy_rows
from flowpo.search.policy import QTable

log = logging.getLogger(__name__)


async def init(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Build the initial candidate and a uniform Q over (editable section, operator)."""
    config = runtime.context
    res = resources(config)
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        prompt, calls = await initial_prompt(
            res.task, res.llm, start=config.start, prompt=config.prompt,
            prompt_file=config.prompt_file, instruction_only=config.method_spec.instruction_only,
        )
        if calls:
            update["budget"]["llm_calls"] = calls
        rows = policy_rows(prompt, res.task, edit_format=config.edit_format)
        ops = sorted([*res.operators, *([GFN] if config.method_spec.sampler_action else [])])
        q = QTable.prior(rows, ops, res.cells(config, rows, ops))
        pending = [new_candidate(prompt, cid="c0", epoch=0)]
        nearest = retrieving(res, config, prompt)
        if nearest is not None:
            pending.append(new_candidate(nearest, cid="k0", epoch=0))
        if res.memory is not None:
            q, used = warm_start(
                res.memory, q, res.task.description or res.task.name, res.run_dir.name
            )
            update["warm_start"] = used
            start = remembered(res, config, prompt)
            if start is not None:
                pending.append(new_candidate(start, cid="m0", epoch=0))
        update.update(
            {
                "epoch": 0,
                "method": config.method,
                "pending": pending,
                "beam": [],
                "archive": [],
                "seen": [],
                "q": q.to_dict(),
                "last_actions": [],
                "stale": 0,
                "stop_reason": None,
                "reflection": {},
            }
        )
    return update


def retrieving(res: Any, config: OptimizeConfig, start: Prompt) -> Prompt | None:
    """Return the start with retrieved demonstrations, when this run may try it.

    kNN demonstrations are a strong, cheap start for small targets, so the search scores
    them beside the plain start from epoch 0 (one more scoring of the reward set) and keeps
    whichever is better. Not for instruction-only methods, chat programs, a frozen examples
    section, or data too small to retrieve ``config.retrieve`` other examples from.
    """
    k = offered_retrieval(config, res.task)
    if not k or config.method_spec.instruction_only:
        return None
    if any(s.name == EXAMPLES and s.frozen for s in start.sections):
        return None
    return with_retrieval(start, k)


def remembered(res: Any, config: OptimizeConfig, start: Prompt) -> Prompt | None:
    """Return the prompt a past run of this task chose, when this run may start from it.

    It must come from the same task, target model and train split, keep the start's frozen
    sections, and (with the format frozen) its frame and label words; instruction-only
    methods (GFlowPO alone) start from their one instruction.
    """
    if config.method_spec.instruction_only or config.program is not None:
        return None
    found = remembered_start(
        res.memory, res.task.name, config.model, split_key(res.task.split("train")),
        exclude_run=res.run_dir.name,
    )
    if found is None:
        return None
    past = Prompt.from_dict(found[0])
    frozen = {s for s in start.sections if s.frozen}
    if not frozen <= set(past.sections) or past.to_dict() == start.to_dict():
        return None
    if not config.edit_format and (past.template, past.verbalizers, past.calibrate) != (
        start.template, start.verbalizers, start.calibrate
    ):
        return None
    log.info("starting also from the prompt run %s chose", found[1])
    return past
