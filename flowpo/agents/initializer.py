"""Node ``init``: the starting prompt (manual, drafted from scratch, or a template) and Q."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import new_candidate, timed
from flowpo.config import OptimizeConfig
from flowpo.graphs.resources import resources
from flowpo.graphs.state import OptimizerState
from flowpo.memory.experience import warm_start
from flowpo.operators.actions import GFN
from flowpo.search.drafting import initial_prompt, policy_rows
from flowpo.search.policy import QTable


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
        if res.memory is not None:
            q, used = warm_start(
                res.memory, q, res.task.description or res.task.name, res.run_dir.name
            )
            update["warm_start"] = used
        update.update(
            {
                "epoch": 0,
                "method": config.method,
                "pending": [new_candidate(prompt, cid="c0", epoch=0)],
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
