"""Frame, label words and calibration as trainable parts of the prompt.

For small targets the frame around the input and the label words matter more than the
instruction. These operators edit ``Prompt.template``, ``Prompt.verbalizers`` and
``Prompt.calibrate``; the benchmark protocol freezes them (``edit_format=False``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from flowpo.operators.base import (
    EXAMPLES,
    FRAME,
    LABEL_WORDS,
    LABELS,
    LLM,
    VERBALIZER,
    Operator,
    OperatorContext,
    OperatorResult,
    register,
)
from flowpo.operators.llm import ask, clean, data_block, system_prompt
from flowpo.prompt import PROMPT_SLOT, TEXT_SLOT, Prompt, check_template
from flowpo.search.coherence import answer_words, relabel
from flowpo.search.labelwords import best_label_words

if TYPE_CHECKING:
    from flowpo.tasks.task import Task

FRAMES = (
    "{prompt}\n\nReview: {text}\nSentiment:",
    "{prompt}\n\nText: {text}\nLabel:",
    "{prompt}\n\nInput: {text}\nAnswer:",
    "{prompt}\n\nQuestion: {text}\nAnswer:",
    "{prompt}\n\n{text}\nAnswer:",
    "{prompt}\n\nSentence: {text}\nCategory:",
    "{prompt} Input : {text} Output:",
)
"""Common frames; ``{prompt}`` is the instruction, ``{text}`` the formatted input."""

GENERIC_CUES = frozenset({"text", "input", "answer", "label", "question", "sentence",
                          "category", "output"})
"""Cue words that name no domain: a library frame built of them fits any task."""


def fits_task(frame: str, said: str) -> bool:
    """Return True when every domain word ``frame`` names is one ``said`` uses.

    A frame tells the target what the input and the answer are; ``Review:``/``Sentiment:``
    around an RTE premise and hypothesis contradicts the instruction, and a prompt a person
    would not deploy (the medium bench's RTE seed 42 returned it: the target is at chance
    there, so any frame can win the reward set by noise). ``said`` is the task's own words
    (description, name, labels, instruction); words are matched as substrings, so
    ``review`` fits "movie-review" and "reviews".

    Example:
        >>> fits_task(FRAMES[0], "Classify the sentiment of a customer review")
        True
        >>> fits_task(FRAMES[0], "Decide whether the premise entails the hypothesis")
        False
        >>> fits_task(FRAMES[1], "anything")
        True
    """
    body = frame.replace(PROMPT_SLOT, " ").replace(TEXT_SLOT, " ")
    cues = {w.lower() for w in re.findall(r"[A-Za-z]+", body)} - GENERIC_CUES
    return all(w in said.lower() for w in cues)


def library_frames(task: Task, prompt: Prompt) -> list[str]:
    """Return the library frames that fit ``task`` as ``prompt`` states it (:func:`fits_task`)."""
    said = " ".join([task.description or "", task.name, prompt.text, *task.labels])
    return [f for f in FRAMES if fits_task(f, said)]

_NAME = re.compile(r"^[A-Za-z][A-Za-z ]{0,20}$")


def with_frame(prompt: Prompt, frame: str) -> Prompt:
    """Return ``prompt`` with a new frame; demonstrations in the old frame are dropped."""
    sections = tuple(s for s in prompt.sections if s.name != EXAMPLES or s.frozen)
    return replace(prompt, template=frame, sections=sections)


def frame_alone(prompt: Prompt) -> Prompt:
    """Return ``prompt`` with its editable sections emptied: the frame and label words alone.

    The sections stay (empty), so an edit can write them again; frozen ones are kept.
    A small target may read its input better with no instruction than with one that
    names the label words to it (CR in the ``Review:``/``Sentiment:`` frame: 0.84 on the
    reward set alone, 0.63 under the task's instruction); the frame sweep tries both.
    """
    sections = tuple(s if s.frozen else replace(s, text="") for s in prompt.sections)
    return replace(prompt, sections=sections)


def says_nothing(prompt: Prompt) -> bool:
    """Return True when every editable section of ``prompt`` is empty (a frame alone).

    Frozen sections do not count: they are the user's, kept by :func:`frame_alone`.
    """
    return not any(s.text.strip() for s in prompt.sections if not s.frozen)


@register
class Frame(Operator):
    """Propose input/output frames: a library of common ones, plus names from the LM."""

    name = "frame"
    description = "Change the frame around the input (e.g. 'Review: {text}\\nSentiment:')."
    writes = FRAME
    uses = frozenset({LLM})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return up to two prompts with another frame (one from the LM when it has one).

        Library frames the run has not scored yet come first (in random order), so repeated
        draws cover the library instead of re-proposing the frames already scored.
        """
        result = OperatorResult()
        current = prompt.template or ctx.task.template
        tried = {c.prompt.get("template") or ctx.task.template for c in ctx.history}
        options = [f for f in library_frames(ctx.task, prompt) if f != current]
        ctx.rng.shuffle(options)
        options.sort(key=lambda f: f in tried)  # stable: untried first, each group shuffled
        if ctx.llm is not None:
            frame = await self._from_llm(ctx, result)
            if frame and frame != current and frame not in tried:
                options.insert(0, frame)
        for frame in options[:2]:
            result.prompts.append(with_frame(prompt, frame))
        return result

    async def _from_llm(self, ctx: OperatorContext, result: OperatorResult) -> str | None:
        examples = "\n".join(data_block("input", ctx.task.format_input(e)) for e in ctx.train[:3])
        user = (
            f"Task: {ctx.task.description or ctx.task.name}.\n{examples}\n"
            "Give a short name for the input and a short name for the answer, as "
            "'input name | answer name' (for example 'Review | Sentiment')."
        )
        asked = await ask(ctx.llm, system_prompt(), user)  # type: ignore[arg-type]
        result.llm_calls += asked.calls
        if not asked.texts:
            return None
        parts = [p.strip().strip(":") for p in clean(asked.texts[0]).split("|")]
        if len(parts) != 2 or not all(_NAME.match(p) for p in parts):
            result.rejected.append("operator LM gave no usable frame names")
            return None
        frame = f"{PROMPT_SLOT}\n\n{parts[0]}: {TEXT_SLOT}\n{parts[1]}:"
        return check_template(frame)


@register
class LabelWords(Operator):
    """Choose label words by exhaustive search on the target's cached next-token scores."""

    name = "label_words"
    description = "Search one-token label words (names, variants, the target's own favourites)."
    writes = LABEL_WORDS
    needs = frozenset({LABELS, VERBALIZER})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the prompt with the best label words on the reward set, if they change."""
        result = OperatorResult()
        if ctx.task.kind != "classification" or not ctx.train:
            result.rejected.append("label words apply to classification tasks only")
            return result
        if ctx.target is None or not hasattr(ctx.target, "next_token_logprobs"):
            result.rejected.append("label-word search needs a local target (next-token scores)")
            return result
        words = await best_label_words(
            ctx.target, ctx.task, prompt, ctx.train, ctx.soft_weight, embed=ctx.label_embed
        )
        current = answer_words(prompt, ctx.task)
        if words == current:
            result.rejected.append("the current label words are already the best found")
            return result
        result.prompts.append(relabel(prompt, current, words))  # text and demos follow
        return result


@register
class Calibrate(Operator):
    """Toggle contextual calibration (subtract the label words' content-free bias)."""

    name = "calibrate"
    description = "Switch contextual calibration of label-word scores on or off."
    writes = LABEL_WORDS
    needs = frozenset({LABELS})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return the prompt with calibration flipped."""
        result = OperatorResult()
        if ctx.task.kind != "classification":
            result.rejected.append("calibration applies to classification tasks only")
            return result
        result.prompts.append(replace(prompt, calibrate=not prompt.calibrate))
        return result
