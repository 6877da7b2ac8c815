"""The RAG operator: substitute a section with a related text that scored well before.

Texts come from the experience memory (``ctx.retrieve``) when one is attached, else
from the run's history: what other evaluated candidates had in the same section, ranked
by their train score, then by lexical similarity to the current text. No LLM is used.
"""

from __future__ import annotations

from flowpo.operators.base import (
    HISTORY,
    MEMORY,
    Operator,
    OperatorContext,
    OperatorResult,
    normalize_text,
    register,
    replace_section,
)
from flowpo.operators.common import jaccard, scored_prompts, tokens
from flowpo.prompt import Prompt
from flowpo.types import Candidate

N_PROMPTS = 2
"""Prompts returned per application (one retrieved text each)."""
K_RETRIEVE = 8
"""Texts asked of the memory (some are dropped as duplicates or invalid)."""


def history_texts(history: list[Candidate], section: str, current: str) -> list[str]:
    """Return other candidates' texts of ``section``, best train score then most similar."""
    query = tokens(current)
    best: dict[str, tuple[float, float, str]] = {}
    for cand, prompt in scored_prompts(history):
        text = next((s.text for s in prompt.sections if s.name == section), None)
        if text is None or not text.strip() or normalize_text(text) == normalize_text(current):
            continue
        key = (float(cand.train_score or 0.0), jaccard(tokens(text), query), text)
        if normalize_text(text) not in best or key > best[normalize_text(text)]:
            best[normalize_text(text)] = key
    ranked = sorted(best.values(), key=lambda k: (k[0], k[1]), reverse=True)
    return [text for _, _, text in ranked]


def memory_texts(ctx: OperatorContext, current: str, result: OperatorResult) -> list[str]:
    """Return the memory's hits for ``current``, best score then most similar."""
    if ctx.retrieve is None:
        return []
    try:
        hits = ctx.retrieve(current, K_RETRIEVE)
    except Exception as e:  # a memory failure is a failed lookup, never a crash
        result.rejected.append(f"memory search failed: {type(e).__name__}: {e}")
        return []
    query = tokens(current)
    ranked = sorted(
        (
            (float(score), jaccard(tokens(text), query), text)
            for text, score in hits
            if isinstance(text, str)
        ),
        key=lambda k: (k[0], k[1]),
        reverse=True,
    )
    seen = {normalize_text(current)}
    out = []
    for _, _, text in ranked:
        if text.strip() and normalize_text(text) not in seen:
            seen.add(normalize_text(text))
            out.append(text)
    return out


@register
class RAG(Operator):
    """Replace the section with a high-scoring related text from memory or history."""

    name = "rag"
    description = (
        "Retrieve texts that scored well in the same section before and "
        "substitute them for the current one."
    )
    needs = frozenset({HISTORY})
    uses = frozenset({MEMORY})  # preferred over the history when attached

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return up to two prompts, each with one retrieved text in ``section``."""
        result = OperatorResult()
        current = next((s for s in prompt.sections if s.name == section), None)
        if current is None:
            result.rejected.append(f"no section {section!r} to retrieve for")
            return result
        if current.frozen:
            result.rejected.append(f"section {section!r} is frozen")
            return result
        texts = memory_texts(ctx, current.text, result)
        if not texts:
            texts = history_texts(ctx.history, section, current.text)
        if not texts:
            result.rejected.append(f"nothing retrieved for section {section!r}")
            return result
        for text in texts:
            if len(result.prompts) >= N_PROMPTS:
                break
            replace_section(prompt, section, text, ctx, result)
        return result
