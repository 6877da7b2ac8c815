"""Structural operators that need no LLM: Define Sort, Repeat Instructions, Merge.

Define Sort reorders sections ("sentences closer to the output tend to exert a greater
effect"), Repeat Instructions restates the key instruction at the end of the prompt, and
Merge combines the best sections of several high-scoring beam prompts (PromptFlow
§Operator).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flowpo.operators.base import (
    BEAM,
    EXAMPLES,
    FORMAT,
    LABEL_PREFIX,
    LABEL_SECTIONS,
    TASK,
    Operator,
    OperatorContext,
    OperatorResult,
    check_section,
    register,
)
from flowpo.operators.common import same_prompt, scored_prompts
from flowpo.prompt import Prompt, Section
from flowpo.types import Candidate

REMINDER = "reminder"
"""The section Repeat Instructions writes."""
MAX_REMINDER_CHARS = 200
MERGE_TOP = 4
"""How many of the best beam prompts Merge draws sections from."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def _frozen_names(prompt: Prompt) -> set[str]:
    return {s.name for s in prompt.sections if s.frozen}


@register
class DefineSort(Operator):
    """Move a section to the end (closest to the input) or to the front."""

    name = "define_sort"
    description = "Reorder the prompt: move the section to the end or to the front."

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return up to two reorderings; frozen sections keep their positions."""
        result = OperatorResult()
        names = [s.name for s in prompt.sections]
        if section not in names:
            result.rejected.append(f"no section {section!r} to move")
            return result
        if section in _frozen_names(prompt):
            result.rejected.append(f"section {section!r} is frozen")
            return result
        slots = [i for i, s in enumerate(prompt.sections) if not s.frozen]
        movable = [prompt.sections[i] for i in slots]
        moved = next(s for s in movable if s.name == section)
        rest = [s for s in movable if s is not moved]
        for order in (rest + [moved], [moved] + rest):
            sections = list(prompt.sections)
            for i, s in zip(slots, order, strict=True):
                sections[i] = s
            new = replace(prompt, sections=tuple(sections))
            if same_prompt(new, prompt) or any(same_prompt(new, p) for p in result.prompts):
                result.rejected.append("order unchanged")
            else:
                result.prompts.append(new)
        return result


def first_sentence(text: str, limit: int = MAX_REMINDER_CHARS) -> str:
    """Return the first sentence of ``text``, cut at a word boundary to ``limit`` chars."""
    for part in _SENTENCE_END.split(text.strip()):
        part = _BULLET.sub("", part).strip().lstrip("#").strip()
        if part:
            break
    else:
        return ""
    if len(part) <= limit:
        return part
    cut = part[:limit].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "..."


def _reminder_source(prompt: Prompt, section: str) -> str:
    """Return the text whose key instruction is restated."""
    texts = {s.name: s.text for s in prompt.sections}
    if section not in (EXAMPLES, FORMAT, REMINDER) and texts.get(section, "").strip():
        return texts[section]
    if texts.get(TASK, "").strip():
        return texts[TASK]
    skip = (EXAMPLES, FORMAT, REMINDER)
    return next((s.text for s in prompt.sections if s.name not in skip and s.text.strip()), "")


@register
class RepeatInstructions(Operator):
    """Restate the section's key instruction at the end of the prompt."""

    name = "repeat_instructions"
    description = "Append a short 'Remember: ...' restating the section's key instruction."

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the prompt with a reminder section last (an old reminder is replaced)."""
        result = OperatorResult()
        if REMINDER in _frozen_names(prompt):
            result.rejected.append(f"section {REMINDER!r} is frozen")
            return result
        sentence = first_sentence(_reminder_source(prompt, section))
        if not sentence:
            result.rejected.append("no instruction to restate")
            return result
        if not sentence.endswith((".", "!", "?", "...")):
            sentence += "."
        text = f"Remember: {sentence}"
        reason = check_section(prompt, REMINDER, text, ctx)
        if reason:
            result.rejected.append(reason)
            return result
        kept = tuple(s for s in prompt.sections if s.name != REMINDER)
        result.prompts.append(replace(prompt, sections=(*kept, Section(REMINDER, text))))
        return result


def _label_f1(candidate: Candidate, label: str) -> float:
    """Return the candidate's F1 on ``label`` (-1 when unknown)."""
    table: Any = candidate.per_label.get("per_label", candidate.per_label)
    row = table.get(label) if isinstance(table, dict) else None
    if isinstance(row, dict) and isinstance(row.get("f1"), int | float):
        return float(row["f1"])
    return -1.0


def _merged_sections(prompt: Prompt, top: list[tuple[Candidate, Prompt]]) -> list[Section]:
    """Pick each section's text from the prompt best at it (label F1, else train score)."""
    order: list[str] = []
    for _, p in top:
        order += [s.name for s in p.sections if s.name not in order]
    for i, s in enumerate(prompt.sections):
        if s.frozen and s.name not in order:
            order.insert(min(i, len(order)), s.name)
    frozen = {s.name: s for _, p in reversed(top) for s in p.sections if s.frozen}
    frozen.update({s.name: s for s in prompt.sections if s.frozen})
    out = []
    for name in order:
        if name in frozen:
            out.append(frozen[name])
            continue
        having = [(c, p) for c, p in top if any(s.name == name for s in p.sections)]
        if name.startswith(LABEL_PREFIX):
            label = name[len(LABEL_PREFIX) :]
            # max() keeps the first of equal F1s, i.e. the higher train score
            _, src = max(having, key=lambda cp: _label_f1(cp[0], label))
        else:
            _, src = having[0]
        out.append(src.section(name))
    return out


@register
class Merge(Operator):
    """Combine the best sections of the top beam prompts into one prompt."""

    name = "merge"
    description = (
        "Merge the best beam prompts: each label section from the prompt with "
        "the best F1 on that label, the rest from the best prompt."
    )
    needs = frozenset({BEAM, LABEL_SECTIONS})  # without label sections it gives the parent back

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the merged prompt, unless it is one the beam already holds."""
        result = OperatorResult()
        top = scored_prompts(ctx.beam)[:MERGE_TOP]
        if len(top) < 2:
            result.rejected.append("needs two scored prompts")
            return result
        best = top[0][1]
        merged = replace(best, sections=tuple(_merged_sections(prompt, top)))
        if same_prompt(merged, prompt):
            result.rejected.append("merge gives the same prompt")
        elif any(same_prompt(merged, p) for _, p in top):
            result.rejected.append("merge gives a prompt already in the beam")
        else:
            result.prompts.append(merged)
        return result
