"""Running one planned edit: an operator on one section, traced, never a crash."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flowpo.errors import FlowpoError
from flowpo.operators.base import Operator, OperatorContext, OperatorResult
from flowpo.prompt import Prompt
from flowpo.run.tracing import span
from flowpo.search.promptdiff import prompt_diff

log = logging.getLogger(__name__)


async def apply_operator(
    operators: Mapping[str, Operator], step: Mapping[str, Any], prompt: Prompt, ctx: OperatorContext
) -> OperatorResult:
    """Run ``step``'s operator on its section as a traced run named ``operator@section``.

    An unexpected error is a failed action, logged, never a crash. ``FlowpoError``s (a
    target model that failed for good, a bad setting) still stop the run: its checkpoint
    is saved and ``flowpo resume`` continues it.
    """
    name = f"{step['operator']}@{step['section']}"
    async with span(name, {**step, "parent_prompt": prompt.text}) as run:
        try:
            result = await operators[step["operator"]].apply(prompt, step["section"], ctx)
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


def failed_action(step: Mapping[str, Any], result: OperatorResult) -> dict[str, Any]:
    """Return the record of a planned edit that made no new prompt."""
    reason = "; ".join(result.rejected) or "only prompts already scored (or near-duplicates)"
    return {**step, "candidate_id": None, "failed": True, "reason": reason}


def new_children(
    prompts: list[Prompt], seen: set[str], limit: int, template: str, verbalizers: dict[str, str]
) -> list[Prompt]:
    """Return up to ``limit`` of ``prompts`` with a new near key (their keys join ``seen``)."""
    kept: list[Prompt] = []
    for child in prompts:
        key = child.near_key(template, verbalizers)
        if key in seen or len(kept) == limit:
            continue
        seen.add(key)
        kept.append(child)
    return kept
