"""Node ``init``: the starting prompt (manual, drafted from scratch, or a template) and Q."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from flowpo.agents.common import new_candidate, timed
from flowpo.agents.experience import warm_start
from flowpo.config import OptimizeConfig
from flowpo.errors import ConfigError
from flowpo.graphs.resources import resources
from flowpo.graphs.state import OptimizerState
from flowpo.operators.base import EXAMPLES, FRAME, LABEL_WORDS, STEPS, editable_sections
from flowpo.prompt import Prompt
from flowpo.search.drafting import draft_from_scratch, from_template, sections_from_manual
from flowpo.search.policy import QTable
from flowpo.tasks.manual import manual_prompt


async def init(state: OptimizerState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
    """Build the initial candidate and a uniform Q over (editable section, operator)."""
    config = runtime.context
    res = resources(config)
    update: dict[str, Any] = {"budget": {}}
    with timed(update):
        if config.start == "template":
            if config.prompt_file is None:
                raise ConfigError(
                    "start=template needs a template file",
                    field="prompt_file",
                    fix="pass --prompt-file template.md",
                )
            prompt = from_template(config.prompt_file)
        elif config.method_spec.instruction_only:  # GFlowPO: the prompt is the instruction
            prompt = Prompt.from_text(config.prompt or manual_prompt(res.task))
        elif config.start == "scratch":
            prompt, calls = await draft_from_scratch(res.llm, res.task, res.task.split("train"))
            update["budget"]["llm_calls"] = calls
        else:
            prompt = sections_from_manual(res.task, config.prompt)
        sections = editable_sections(prompt)
        if not sections:
            raise ConfigError(
                "the prompt has no editable section",
                field="prompt_file",
                fix="unfreeze at least one section of the template",
            )
        rows = list(dict.fromkeys([*sections, EXAMPLES, STEPS]))
        if config.edit_format:
            rows.append(FRAME)
            if res.task.kind == "classification":
                rows.append(LABEL_WORDS)
        ops = sorted([*res.operators, *(["gfn"] if config.method_spec.sampler_action else [])])
        q = QTable.uniform(rows, ops)
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
