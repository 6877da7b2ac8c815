"""Text operators: Refine, Rewrite, Reflection and Short-Instruction (PromptFlow §Operator).

Each edits one section through the operator LM with a plain-words request (the
appendix's Refine and Reflection prompts, without their JSON answer format). The section
itself, example text and model answers travel as ``<data>`` blocks. Short-Instruction
also works without an LLM: a rule keeps the first sentence and those naming a label.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

from flowpo.operators.base import (
    BAD_CASES,
    LLM,
    REFLECTION,
    TASK,
    BadCase,
    Operator,
    OperatorContext,
    OperatorResult,
    register,
)
from flowpo.operators.llm import (
    NO_LLM,
    add_drafts,
    answer_text,
    ask,
    clean,
    data_block,
    edit_with_llm,
    precheck,
    section_request,
    section_text,
    system_prompt,
    verbalizers,
)
from flowpo.prompt import Prompt

MAX_REASONS = 8
"""Bad-case reasons the Reflection operator shows."""
MAX_BAD_CASES = 3
"""Bad cases the Reflection operator shows as data."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class SectionEdit(Operator):
    """Edit a section through the operator LM with one fixed plain-words request.

    Subclasses set ``instruction`` (the request) and ``summary`` (whether the reflected
    problems of wrong answers are shown too).
    """

    needs = frozenset({LLM})
    uses = frozenset({REFLECTION})
    instruction: ClassVar[str]
    summary: ClassVar[bool] = True

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the sections the operator LM wrote after ``instruction``, several drafts.

        A small operator LM rarely gets an edit right at the first try: ``ctx.n_drafts``
        sampled drafts come from one batched call, every valid one is a candidate, and
        minibatch screening keeps the scoring of the losers cheap.
        """
        user = section_request(prompt, section, ctx, self.instruction, summary=self.summary)
        return await edit_with_llm(prompt, section, ctx, user, n=ctx.n_drafts)


@register
class Refine(SectionEdit):
    """Improve a section for clarity and precision with small changes."""

    name = "refine"
    description = "Improve the section for clarity and precision, keeping its meaning."
    instruction = (
        "Use the Refine method: make small adjustments that make this section clearer "
        "and more precise, so the model answers correctly. Keep its meaning."
    )


@register
class Rewrite(SectionEdit):
    """Rewrite a section from scratch in different words for the same purpose."""

    name = "rewrite"
    description = "Rewrite the section from scratch in different words, same purpose."
    uses = frozenset()
    instruction = (
        "Rewrite this section from scratch in different words. It must serve the same "
        "purpose and keep the same answer words."
    )
    summary = False


def _bad_case_blocks(cases: list[BadCase], ctx: OperatorContext, prompt: Prompt) -> list[str]:
    """Return each bad case as data: its input, the expected and the given answer."""
    lines = []
    for i, case in enumerate(cases, 1):
        lines += [
            f"Wrong answer {i}:",
            data_block(f"input {i}", case.text),
            "Expected: " + data_block(f"expected {i}", answer_text(ctx.task, case.target, prompt)),
            "Model answered: "
            + data_block(f"answer {i}", answer_text(ctx.task, case.prediction, prompt)),
        ]
    return lines


@register
class Reflection(Operator):
    """Fix a section from the reasons the best prompt failed on its bad cases."""

    name = "reflection"
    description = "Fix the section using the reasons and summary of the bad cases."
    needs = frozenset({LLM, REFLECTION})
    uses = frozenset({BAD_CASES})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the section improved against the reflected bad-case reasons."""
        reflection = ctx.reflection
        if ctx.llm is None or reflection is None or not reflection.reasons:
            reason = NO_LLM if ctx.llm is None else "no bad-case reasons yet"
            return OperatorResult(rejected=[reason])
        reasons = "\n".join(f"- {r}" for r in reflection.reasons[:MAX_REASONS])
        extra = ["Why the prompt failed on some inputs:", data_block("reasons", reasons)]
        if reflection.summary.strip():
            extra += ["Common problems and root causes:", data_block("summary", reflection.summary)]
        extra += _bad_case_blocks(ctx.bad_cases[:MAX_BAD_CASES], ctx, prompt)
        user = section_request(
            prompt,
            section,
            ctx,
            "Improve this section so these mistakes do not happen again: say clearly what "
            "the right answer depends on. Keep what is already correct, and stay brief.",
            summary=False,
            extra=extra,
        )
        return await edit_with_llm(prompt, section, ctx, user)


def shorten(text: str, words: list[str]) -> str:
    """Keep the first sentence and every later sentence naming one of ``words``."""
    sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]
    patterns = [
        re.compile(rf"(?<!\w){re.escape(w)}(?!\w)", re.IGNORECASE) for w in words if w.strip()
    ]
    kept = sentences[:1] + [s for s in sentences[1:] if any(p.search(s) for p in patterns)]
    return " ".join(kept)


def without_section(prompt: Prompt, section: str) -> Prompt | None:
    """Return ``prompt`` without ``section``: the most concise form of a redundant part.

    The task description and frozen sections are never dropped, nor the last section.
    """
    names = [s.name for s in prompt.sections]
    if section == TASK or section not in names or len(names) < 2:
        return None
    if any(s.name == section and s.frozen for s in prompt.sections):
        return None
    return replace(prompt, sections=tuple(s for s in prompt.sections if s.name != section))


@register
class ShortInstruction(Operator):
    """Make a section concise (by rule without an LLM; by rule and LLM with one)."""

    name = "short_instruction"
    description = "Make the section concise; keeps the sentences that name the labels."
    uses = frozenset({LLM})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the rule-shortened section, then the LLM-shortened one (if an LLM is given)."""
        result = OperatorResult()
        reason = precheck(prompt, section, ctx, llm=False)
        if reason:
            result.rejected.append(reason)
            return result
        current = section_text(prompt, section)
        words = list(ctx.task.labels) + list(verbalizers(ctx.task, prompt).values())
        add_drafts(prompt, section, [shorten(current, words)], ctx, result, extract=False)
        dropped = without_section(prompt, section)
        if dropped is not None:
            result.prompts.append(dropped)
        if ctx.llm is not None:
            user = section_request(
                prompt,
                section,
                ctx,
                "Make this section concise: keep only what the model needs to answer "
                "correctly, in fewer words. Keep every answer word it mentions.",
                summary=False,
            )
            asked = await ask(ctx.llm, system_prompt(), user)
            result.llm_calls += asked.calls
            if not asked.texts:
                result.rejected.append(f"operator LM failed: {asked.error}")
            for text in map(clean, asked.texts):
                if text and len(text) >= len(current):
                    result.rejected.append("output not shorter than the section")
                else:
                    add_drafts(prompt, section, [text], ctx, result, extract=False)
        return result
