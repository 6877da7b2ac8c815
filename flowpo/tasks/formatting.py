"""Input formatters: turn an example's input (text or named fields) into prompt text."""

from __future__ import annotations

from collections.abc import Callable

from flowpo.errors import DataError
from flowpo.types import Example

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _text(example: Example) -> str:
    if isinstance(example.input, str):
        return example.input
    return _pair(example)


def _pair(example: Example) -> str:
    """Write named fields as GFlowPO does: premise, newline, space, hypothesis."""
    if isinstance(example.input, str):
        return example.input
    return "\n ".join(f"{k} : {v}" for k, v in example.input.items())


def _choices(example: Example) -> str:
    """Write a question and lettered options (MMLU, multiple-choice BIG-bench)."""
    if isinstance(example.input, dict):
        question = str(example.input.get("question", ""))
        options = list(example.input.get("choices", example.choices))
    else:
        question, options = example.input, list(example.choices)
    lines = [question] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(options)]
    return "\n".join(lines)


FORMATTERS: dict[str, Callable[[Example], str]] = {
    "text": _text,
    "pair": _pair,
    "choices": _choices,
}


def format_input(name: str, example: Example) -> str:
    """Format ``example`` with the formatter called ``name``."""
    try:
        fn = FORMATTERS[name]
    except KeyError:
        raise DataError(
            f"unknown input format {name!r}",
            field="input_format",
            fix=f"use one of: {', '.join(FORMATTERS)}",
        ) from None
    return fn(example)
