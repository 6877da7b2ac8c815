"""The Differential Evolution operator (EvoPrompt DE, Guo et al. 2023), section-wise.

Two other beam prompts b and c are compared section by section; where they differ, the
text of the better one is crossed into the prompt with probability 0.5 (at least one
section always crosses). Without an operator LM that is the whole operator; with one,
the LM is also asked once to rewrite the chosen section combining the different parts.
"""

from __future__ import annotations

from flowpo.operators.base import (
    BEAM,
    LLM,
    Operator,
    OperatorContext,
    OperatorResult,
    register,
    replace_section,
)
from flowpo.operators.common import same_prompt, scored_prompts
from flowpo.operators.llm import clean
from flowpo.prompt import Prompt
from flowpo.types import Candidate

CROSSOVER_RATE = 0.5

DE_TEMPLATE = """Two versions of the "{section}" part of a prompt differ.
Version A (scored better):
{better}

Version B:
{worse}

Current version:
{current}

Write a new "{section}" part that keeps what works in the current version and adds \
the best different parts of version A and version B. Reply with the new text only."""


def _texts(prompt: Prompt) -> dict[str, str]:
    return {s.name: s.text for s in prompt.sections}


def differing_sections(b: Prompt, c: Prompt) -> list[str]:
    """Return the section names whose text differs between ``b`` and ``c`` (in order)."""
    tb, tc = _texts(b), _texts(c)
    names = list(tb) + [n for n in tc if n not in tb]
    return [n for n in names if tb.get(n) != tc.get(n)]


def crossover(prompt: Prompt, better: Prompt, names: list[str], ctx: OperatorContext) -> Prompt:
    """Cross each differing section of ``better`` into ``prompt`` with probability 0.5.

    Frozen sections of ``prompt`` never change; when no coin comes up, one section that
    would change is crossed anyway so the child differs from its parent.
    """
    own, donor = _texts(prompt), _texts(better)
    frozen = {s.name for s in prompt.sections if s.frozen}
    useful = [n for n in names if n in donor and n not in frozen and own.get(n) != donor[n]]
    if not useful:
        return prompt
    picked = [n for n in useful if ctx.rng.random() < CROSSOVER_RATE]
    if not picked:
        picked = [ctx.rng.choice(useful)]
    child = prompt
    for name in picked:
        child = child.with_section(name, donor[name])
    return child


def _parents(
    prompt: Prompt, beam: list[Candidate], ctx: OperatorContext
) -> list[tuple[Candidate, Prompt]]:
    """Return up to two beam members other than ``prompt``, better first."""
    others = [(c, p) for c, p in scored_prompts(beam) if not same_prompt(p, prompt)]
    if len(others) <= 2:
        return others
    picked = ctx.rng.sample(range(len(others)), 2)
    return [others[i] for i in sorted(picked)]


def _answer_text(message: object) -> str:
    """Return the text content of a chat answer."""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text", ""))
            for p in content
            if isinstance(p, str | dict)
        )
    return str(content)


@register
class DifferentialEvolution(Operator):
    """Cross the differing sections of two beam prompts into the prompt (EvoPrompt DE)."""

    name = "differential_evolution"
    description = (
        "Take two other beam prompts, cross the better one's differing sections "
        "into the prompt; with an LM, also rewrite the section combining them."
    )
    needs = frozenset({BEAM})
    uses = frozenset({LLM})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the crossover child and, with an operator LM, an LM-combined section."""
        result = OperatorResult()
        parents = _parents(prompt, ctx.beam, ctx)
        if not parents:
            result.rejected.append("needs another scored beam prompt")
            return result
        better = parents[0][1]
        worse = parents[1][1] if len(parents) > 1 else prompt
        names = differing_sections(better, worse)
        child = crossover(prompt, better, names, ctx)
        if same_prompt(child, prompt):
            result.rejected.append("no differing section to cross over")
        else:
            result.prompts.append(child)
        if ctx.llm is not None:
            await self._combine(prompt, section, better, worse, ctx, result)
        return result

    async def _combine(
        self,
        prompt: Prompt,
        section: str,
        better: Prompt,
        worse: Prompt,
        ctx: OperatorContext,
        result: OperatorResult,
    ) -> None:
        """Ask the operator LM once to rewrite ``section`` from both parents' versions."""
        own = _texts(prompt)
        if section not in own:
            result.rejected.append(f"no section {section!r} for the LM to rewrite")
            return
        if any(s.name == section and s.frozen for s in prompt.sections):
            result.rejected.append(f"section {section!r} is frozen")
            return
        tb, tw = _texts(better), _texts(worse)
        ask = DE_TEMPLATE.format(
            section=section,
            current=own[section],
            better=tb.get(section, "(none)"),
            worse=tw.get(section, "(none)"),
        )
        llm = ctx.llm
        if llm is None:
            return
        result.llm_calls += 1
        try:
            answer = await llm.ainvoke(ask)
        except Exception as e:  # any LM failure is a failed action, never a crash
            result.rejected.append(f"operator LM failed: {type(e).__name__}: {e}")
            return
        replace_section(prompt, section, clean(_answer_text(answer)), ctx, result)
