"""Demonstrations: a labelled example rendered in a prompt's frame, answered with its word."""

from __future__ import annotations

from flowpo.prompt import DEFAULT_TEMPLATE, PROMPT_SLOT, TEXT_SLOT
from flowpo.tasks.task import Task
from flowpo.types import Example


def render_demo(task: Task, example: Example, template: str | None = None) -> str:
    """Render a demonstration in the task's own frame, answered with its label word.

    With the template ``"{prompt} Input : {text} Output:"`` a positive SST-2 example
    becomes ``"Input : a great film Output: yes"``. A bare frame (``"{prompt}{text}"``, a
    chat program's: the input is the whole user message) marks nothing, so a demonstration
    there would read ``"cat cats"``; it takes the default frame's markers instead.
    """
    frame = (template or task.template).replace(PROMPT_SLOT, "").strip()
    if frame == TEXT_SLOT:
        frame = DEFAULT_TEMPLATE.replace(PROMPT_SLOT, "").strip()
    if task.kind == "classification":
        answer = task.verbalizers.get(str(example.target), str(example.target))
    else:
        answer = example.answers()[0] if example.answers() else str(example.target)
    return frame.replace(TEXT_SLOT, task.format_input(example)) + " " + answer
