"""Reasoning operators: Chain-of-Thought steps and Self-Consistency (PromptFlow §Operator).

CoT writes the ``steps`` section: a template built from the task (no LLM needed) and,
with an operator LM, a few task-specific numbered steps. Self-Consistency asks for
several drafts of a section in one batched call and keeps the one that agrees most with
the others (mean token Jaccard similarity).
"""

from __future__ import annotations

import re
from dataclasses import replace

from flowpo.operators.base import (
    FORMAT,
    GENERATION,
    LLM,
    STEPS,
    Operator,
    OperatorContext,
    OperatorResult,
    check_section,
    register,
)
from flowpo.operators.llm import (
    NO_LLM,
    add_drafts,
    ask,
    clean,
    data_block,
    precheck,
    section_request,
    system_prompt,
    task_brief,
    verbalizers,
    words_or,
)
from flowpo.prompt import Prompt
from flowpo.tasks.task import Task

_WORD = re.compile(r"\w+")


def cot_template(task: Task, prompt: Prompt | None = None) -> str:
    """Return brief step-by-step guidance built from the task alone."""
    if task.kind == "classification":
        verbs = verbalizers(task, prompt)
        labels = ", ".join(task.labels)
        words = words_or([verbs.get(lab, lab) for lab in task.labels])
        return (
            "Think step by step: read the input, look for words that signal each label "
            f"({labels}), decide, then answer with one word: {words}."
        )
    return (
        "Think step by step: read the input, work out what the task asks for, check your "
        "answer, then give only the answer."
    )


def _steps_before_format(prompt: Prompt, original: Prompt) -> Prompt:
    """Move a newly added steps section just before the format section."""
    if any(s.name == STEPS for s in original.sections):
        return prompt
    names = [s.name for s in prompt.sections]
    if FORMAT not in names or STEPS not in names:
        return prompt
    steps = prompt.sections[names.index(STEPS)]
    rest = [s for s in prompt.sections if s.name != STEPS]
    at = [s.name for s in rest].index(FORMAT)
    return replace(prompt, sections=(*rest[:at], steps, *rest[at:]))


@register
class CoT(Operator):
    """Write or replace the step-by-step reasoning section."""

    name = "cot"
    description = "Write brief step-by-step guidance into the steps section."
    writes = STEPS
    needs = frozenset({GENERATION})  # a verbalizer reads one next token: no reasoning follows
    uses = frozenset({LLM})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the prompt with new steps (template, plus the LLM's steps if valid).

        The steps always go into the ``steps`` section, whichever ``section`` was chosen.
        """
        result = OperatorResult()
        reason = precheck(prompt, STEPS, ctx, llm=False)
        if reason:
            result.rejected.append(reason)
            return result
        add_drafts(prompt, STEPS, [cot_template(ctx.task, prompt)], ctx, result, extract=False)
        if ctx.llm is not None:
            user = "\n".join(
                [
                    task_brief(ctx.task, prompt),
                    "The prompt's current text:",
                    data_block("prompt", prompt.text or "(empty)"),
                    "",
                    "Write 3 to 5 short numbered steps the model should follow to solve this task "
                    "(1. ... 2. ... 3. ...). Make them specific to the task. The last step says "
                    "how to answer.",
                    "Write only the steps. Do not add headings or explanations.",
                ]
            )
            asked = await ask(ctx.llm, system_prompt(), user)
            result.llm_calls += asked.calls
            if not asked.texts:
                result.rejected.append(f"operator LM failed: {asked.error}")
            add_drafts(prompt, STEPS, asked.texts, ctx, result)
        result.prompts = [_steps_before_format(p, prompt) for p in result.prompts]
        return result


def _tokens(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def most_consistent(drafts: list[str]) -> int:
    """Return the index of the draft with the highest mean Jaccard similarity to the rest.

    Ties go to the first such draft; a single draft is chosen as is.
    """
    if len(drafts) <= 1:
        return 0
    toks = [_tokens(d) for d in drafts]
    means = [
        sum(_jaccard(t, o) for j, o in enumerate(toks) if j != i) / (len(toks) - 1)
        for i, t in enumerate(toks)
    ]
    return max(range(len(means)), key=lambda i: (means[i], -i))


@register
class SelfConsistency(Operator):
    """Draft a section several times and keep the draft most consistent with the others."""

    name = "self_consistency"
    description = "Draft the section several times; keep the draft the others agree with."
    needs = frozenset({LLM})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the prompt with the most consistent valid draft of ``section``."""
        result = OperatorResult()
        reason = precheck(prompt, section, ctx)
        if reason or ctx.llm is None:
            result.rejected.append(reason or NO_LLM)
            return result
        user = section_request(
            prompt,
            section,
            ctx,
            "Write an improved version of this section that makes the model answer "
            "correctly. Be clear and brief.",
        )
        asked = await ask(ctx.llm, system_prompt(), user, n=max(1, ctx.n_drafts))
        result.llm_calls += asked.calls
        if not asked.texts:
            result.rejected.append(f"operator LM failed: {asked.error}")
            return result
        valid: list[str] = []
        for raw in asked.texts:
            text = clean(raw)
            why = check_section(prompt, section, text, ctx)
            if why is None and "<data" in text.lower():
                why = "output contains <data> tags"
            if why:
                result.rejected.append(why)
            else:
                valid.append(text)
        if valid:
            add_drafts(prompt, section, [valid[most_consistent(valid)]], ctx, result, extract=False)
        return result
