"""The two starts of PromptFlow's meta-prompt: from a template, or drafted from scratch.

``sections_from_manual`` builds a structured prompt (task, one definition per label,
output format) with no LLM; ``draft_from_scratch`` has the operator LM write the task
description and the label definitions from a few examples, falling back section by
section to the manual text; ``from_template`` reads a user's Markdown template.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from flowpo.errors import ConfigError
from flowpo.operators.base import (
    EXAMPLES,
    FORMAT,
    FRAME,
    LABEL_WORDS,
    STEPS,
    TASK,
    OperatorContext,
    check_section,
    editable_sections,
    label_section,
)
from flowpo.operators.llm import (
    ask,
    ask_each,
    clean,
    data_block,
    system_prompt,
    task_brief,
    words_or,
)
from flowpo.prompt import Prompt, Section
from flowpo.tasks.manual import manual_prompt
from flowpo.tasks.task import Task
from flowpo.types import Example

MAX_DRAFT_CHARS = 600
"""Longest drafted section kept (longer drafts fall back to the manual text)."""

_DRAFTER = (
    "You are an expert prompt engineer. You write one section of a prompt that a small "
    "language model reads before each input."
)


def _label_phrase(label: str) -> str:
    return " ".join(label.replace("_", " ").replace("-", " ").split())


def label_definition(task: Task, label: str) -> str:
    """Return a one-line definition of ``label`` built from its name and answer word."""
    word = task.verbalizers.get(label, label)
    return f"{label}: answer '{word}' when the input is best described as '{_label_phrase(label)}'."


def format_instruction(task: Task) -> str:
    """Return the output-format section: the answer words, or "the answer only"."""
    if task.kind == "classification":
        words = words_or([task.verbalizers.get(lab, lab) for lab in task.labels])
        return f"Answer with one word: {words}."
    return "Answer with the answer only."


def sections_from_manual(task: Task, text: str | None = None) -> Prompt:
    """Return a structured starting prompt written without an LLM.

    Sections: ``task`` (``text``, else the task's manual prompt), one ``label: <label>``
    definition per label (classification), and ``format``.
    """
    sections = [Section(TASK, (text if text is not None else manual_prompt(task)).strip())]
    if task.kind == "classification":
        sections += [
            Section(label_section(lab), label_definition(task, lab)) for lab in task.labels
        ]
    sections.append(Section(FORMAT, format_instruction(task)))
    return Prompt(sections=tuple(sections))


def _pick_examples(
    task: Task, examples: Sequence[Example], n: int, label: str | None = None
) -> list[Example]:
    """Return up to ``n`` examples: of ``label`` if given, else round-robin over labels."""
    if label is not None:
        return [ex for ex in examples if str(ex.target) == label][:n]
    if task.kind != "classification":
        return list(examples[:n])
    groups = [[ex for ex in examples if str(ex.target) == lab] for lab in task.labels]
    out: list[Example] = []
    for i in range(n):
        for group in groups:
            if i < len(group) and len(out) < n:
                out.append(group[i])
    return out


def _example_blocks(task: Task, examples: list[Example]) -> list[str]:
    lines = []
    for i, ex in enumerate(examples, 1):
        answer = (
            task.verbalizers.get(str(ex.target), str(ex.target))
            if task.kind == "classification"
            else (ex.answers() or (str(ex.target),))[0]
        )
        lines += [
            data_block(f"example {i} input", task.format_input(ex)),
            "Answer: " + data_block(f"example {i} answer", answer),
        ]
    return lines


def _task_request(task: Task, examples: list[Example]) -> str:
    return "\n".join(
        [
            task_brief(task),
            "Some examples:",
            *_example_blocks(task, examples),
            "",
            "Write a task description for the model: two or three sentences saying what the "
            "input is and what the model must decide or produce.",
            "Write only the description. Do not add headings or explanations.",
        ]
    )


def _label_request(task: Task, label: str, examples: list[Example]) -> str:
    word = task.verbalizers.get(label, label)
    return "\n".join(
        [
            task_brief(task),
            f"Examples of the label '{label}':",
            *_example_blocks(task, examples),
            "",
            f"Write a one-sentence definition of the label '{label}': when should the model "
            f"answer '{word}'? Say what sets it apart from the other labels.",
            "Write only the definition. Do not add headings or explanations.",
        ]
    )


def _keep(fallback: Prompt, name: str, raw: str, task: Task, prefix: str = "") -> str:
    """Return the cleaned draft for section ``name``, or the fallback text if it fails."""
    text = clean(raw)
    if prefix and text and not text.lower().startswith(prefix.lower()):
        text = f"{prefix} {text}"
    ctx = OperatorContext(task=task, max_section_chars=MAX_DRAFT_CHARS)
    reason = check_section(fallback, name, text, ctx)
    if reason is None and "<data" in text.lower():
        reason = "output contains <data> tags"
    if reason and reason != "output unchanged":
        return fallback.section(name).text
    return text


async def draft_from_scratch(
    llm: BaseChatModel | None, task: Task, examples: Sequence[Example], *, n_examples: int = 4
) -> tuple[Prompt, int]:
    """Return a prompt whose task description and label definitions the operator LM drafted.

    Two calls: one for the task description, one batch for every label's definition.
    A drafted section that is empty, too long or holds a template slot falls back to
    the :func:`sections_from_manual` text, so the prompt is always complete and valid.
    Without an LLM the manual sections are returned (0 calls).
    """
    fallback = sections_from_manual(task)
    if llm is None:
        return fallback, 0
    system = system_prompt(_DRAFTER)
    asked = await ask(llm, system, _task_request(task, _pick_examples(task, examples, n_examples)))
    calls = asked.calls
    texts = {TASK: _keep(fallback, TASK, asked.texts[0] if asked.texts else "", task)}
    if task.kind == "classification":
        users = [
            _label_request(task, lab, _pick_examples(task, examples, n_examples, lab))
            for lab in task.labels
        ]
        defs = await ask_each(llm, system, users)
        calls += defs.calls
        answers = defs.texts or [""] * len(task.labels)
        for lab, raw in zip(task.labels, answers, strict=True):
            name = label_section(lab)
            texts[name] = _keep(fallback, name, raw, task, prefix=f"{lab}:")
    sections = tuple(Section(s.name, texts.get(s.name, s.text)) for s in fallback.sections)
    return Prompt(sections=sections), calls


def from_template(path: str | Path) -> Prompt:
    """Read a Markdown template (headers are sections, "(frozen)" marks frozen ones).

    Raises:
        ConfigError: The template has no section, or no section an operator may edit.
    """
    prompt = Prompt.from_file(path)
    if not prompt.sections:
        raise ConfigError(
            "the template has no sections",
            where=str(path),
            field="template",
            fix="write one Markdown header per section, e.g. '# task' followed by its text",
        )
    if all(s.frozen for s in prompt.sections):
        raise ConfigError(
            "a template with no editable section",
            where=str(path),
            field="template",
            fix="remove '(frozen)' from at least one section header",
        )
    return prompt


async def initial_prompt(
    task: Task,
    llm: BaseChatModel,
    *,
    start: str,
    instruction_only: bool = False,
    prompt: str | None = None,
    prompt_file: str | Path | None = None,
) -> tuple[Prompt, int]:
    """Return the run's starting prompt and the operator-LM calls drafting it cost.

    ``start``: ``template`` (``prompt_file`` with frozen sections), ``scratch`` (drafted
    by the operator LM) or ``manual`` (the task's manual prompt in sections). A method
    whose prompt is one instruction (GFlowPO alone, ``instruction_only``) starts from one
    instruction, as in the paper.
    """
    if start == "template":
        if prompt_file is None:
            raise ConfigError(
                "start=template needs a template file",
                field="prompt_file",
                fix="pass --prompt-file template.md",
            )
        return from_template(prompt_file), 0
    if instruction_only:  # GFlowPO's setting: the prompt is the instruction
        return Prompt.from_text(prompt or manual_prompt(task)), 0
    if start == "scratch":
        return await draft_from_scratch(llm, task, task.split("train"))
    return sections_from_manual(task, prompt), 0


def policy_rows(prompt: Prompt, task: Task, *, edit_format: bool) -> list[str]:
    """Return the Q table's rows.

    They are the editable sections, the demonstrations, the reasoning steps and, with
    ``edit_format``, the frame and (classification) the label words.
    """
    sections = editable_sections(prompt)
    if not sections:
        raise ConfigError(
            "the prompt has no editable section",
            field="prompt_file",
            fix="unfreeze at least one section of the template",
        )
    rows = list(dict.fromkeys([*sections, EXAMPLES, STEPS]))
    if edit_format:
        rows.append(FRAME)
        if task.kind == "classification":
            rows.append(LABEL_WORDS)
    return rows
