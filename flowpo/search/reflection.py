"""The bad-case reflector: why the best prompt fails (PromptFlow's Reflection input).

``select_bad_cases`` picks wrong predictions balanced across gold labels; ``reflect`` asks
the operator LM why each one failed (one batched call) and then to summarise the common
problems and their root causes (one more call). Garbage answers are truncated, model
failures give an empty reflection: reflecting never raises.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel

from flowpo.operators.base import BadCase, Reflection
from flowpo.operators.llm import answer_text, ask, ask_each, clean, data_block, system_prompt
from flowpo.tasks.task import Task
from flowpo.types import Example

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 300
MAX_SUMMARY_CHARS = 800

_ANALYST = (
    "You are a natural language processing expert. A small language model read a prompt "
    "and an input and gave a wrong answer. Explain in one or two sentences why it failed: "
    "what in the input or in the prompt misled it."
)
_SUMMARISER = (
    "You are a natural language processing expert who summarises bad-case analyses. Name "
    "the common problems and their root causes in two to four short sentences."
)


def _clip(text: str, limit: int) -> str:
    """Return ``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut + "…"


def _case_message(task: Task, prompt_text: str, case: BadCase) -> str:
    """Return the user message asking why one case failed."""
    return "\n".join(
        [
            "The prompt:",
            data_block("prompt", prompt_text or "(empty)"),
            "The input:",
            data_block("input", case.text),
            "Expected answer: " + data_block("expected", answer_text(task, case.target)),
            "The model's answer: " + data_block("answer", answer_text(task, case.prediction)),
            *(["The metric's feedback: " + data_block("feedback", case.feedback)]
              if case.feedback else []),
            "",
            "Why did the model give this wrong answer? Answer in one or two sentences.",
        ]
    )


async def reflect(
    llm: BaseChatModel | None,
    task: Task,
    prompt_text: str,
    bad_cases: list[BadCase],
    *,
    max_cases: int = 8,
) -> tuple[Reflection, int]:
    """Return why the prompt failed on (up to ``max_cases``) bad cases, and LLM calls used.

    Reasons are kept in case order; empty ones are dropped. No LLM or no bad case gives
    an empty reflection and 0 calls.
    """
    cases = bad_cases[: max(0, max_cases)]
    if llm is None or not cases:
        return Reflection(), 0
    users = [_case_message(task, prompt_text, c) for c in cases]
    asked = await ask_each(llm, system_prompt(_ANALYST, plain=False), users)
    calls = asked.calls
    reasons = [_clip(clean(t), MAX_REASON_CHARS) for t in asked.texts]
    reasons = [r for r in reasons if r]
    if not reasons:
        log.info("reflection produced no reasons (%s)", asked.error or "empty answers")
        return Reflection(), calls
    listed = "\n".join(f"{i}. {r}" for i, r in enumerate(reasons, 1))
    user = "\n".join(
        [
            "Reasons why a prompt failed on several inputs:",
            data_block("reasons", listed),
            "",
            "What are the common problems, and what are their root causes? Be brief.",
        ]
    )
    summary = await ask(llm, system_prompt(_SUMMARISER, plain=False), user)
    calls += summary.calls
    text = _clip(clean(summary.texts[0]), MAX_SUMMARY_CHARS) if summary.texts else ""
    return Reflection(reasons=reasons, summary=text), calls


def _norm(value: Any) -> Any:
    return " ".join(value.split()).lower() if isinstance(value, str) else value


def _is_wrong(example: Example, prediction: Any, target: Any) -> bool:
    """Return True when ``prediction`` matches neither ``target`` nor any accepted answer."""
    accepted = [target, *example.answers()]
    return all(_norm(prediction) != _norm(a) for a in accepted)


def select_bad_cases(
    task: Task,
    examples: Sequence[Example],
    predictions: Sequence[Any],
    targets: Sequence[Any],
    k: int,
    rng: random.Random,
    *,
    scores: Sequence[float] | None = None,
    feedback: Sequence[str | None] | None = None,
) -> list[BadCase]:
    """Return up to ``k`` wrong predictions, taken round-robin across the gold labels.

    A prediction is wrong when its per-example ``scores`` entry is below 1 (if given),
    else when it differs from the target and every accepted answer (case and spacing
    ignored). Label order and the order within each label are shuffled with ``rng``,
    so the choice is deterministic given the generator's state. ``feedback`` (a Python
    metric's text per example) goes with each chosen case to the reflector.
    """
    if not len(examples) == len(predictions) == len(targets):
        raise ValueError("examples, predictions and targets must have the same length")
    if scores is not None and len(scores) != len(examples):
        raise ValueError("scores must have one entry per example")
    groups: dict[str, list[BadCase]] = {}
    for i, (ex, pred, gold) in enumerate(zip(examples, predictions, targets, strict=True)):
        wrong = scores[i] < 1.0 if scores is not None else _is_wrong(ex, pred, gold)
        if wrong:
            note = feedback[i] if feedback is not None else None
            case = BadCase(ex, task.format_input(ex), pred, gold, note)
            groups.setdefault(answer_text(task, gold), []).append(case)
    keys = sorted(groups)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    chosen: list[BadCase] = []
    while len(chosen) < k and any(groups[key] for key in keys):
        for key in keys:
            if groups[key] and len(chosen) < k:
                chosen.append(groups[key].pop(0))
    return chosen
