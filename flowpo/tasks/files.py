"""Turn a user's JSONL or CSV file into a task, checking every line on the way.

A file is read and checked line by line (:mod:`flowpo.tasks.reading`), its labels found
(:mod:`flowpo.tasks.labels`) and its examples split (:mod:`flowpo.tasks.splits`). Every
error names the file, the line, the field and the fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowpo.errors import DataError
from flowpo.prompt import DEFAULT_TEMPLATE, check_template
from flowpo.tasks.labels import as_list, labels_and_verbalizers
from flowpo.tasks.reading import Row, field_value, read_rows
from flowpo.tasks.splits import task_splits
from flowpo.tasks.task import Kind, Task
from flowpo.types import Example

MAX_INPUT_CHARS = 10_000
"""Default longest example input kept; longer inputs are cut with a warning."""


class TruncationWarning(UserWarning):
    """Some example inputs were longer than the limit and were cut."""


def _cut(value: Any, limit: int) -> tuple[Any, bool]:
    """Return ``value`` with every string cut to ``limit`` characters, and whether any was."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit], True
    return value, False


def _example(
    path: Path, row: Row, inputs: list[str], target_field: str, limit: int, cut: list[int]
) -> tuple[Example, str | None]:
    """Build the example of one row; also return its ``id`` field (``None`` if absent).

    Inputs longer than ``limit`` characters are cut; the line number goes to ``cut``.
    """
    n, rec = row
    values = []
    for f in inputs:
        kept, was_cut = _cut(field_value(path, n, rec, f, "--input-field"), limit)
        values.append(kept)
        if was_cut and (not cut or cut[-1] != n):
            cut.append(n)
    value: Any = values[0] if len(values) == 1 else dict(zip(inputs, values, strict=True))
    if not isinstance(value, str | dict):
        value = str(value)
    target = field_value(path, n, rec, target_field, "--target-field")
    targets: tuple[str, ...] = ()
    if isinstance(target, list):
        targets = tuple(str(t) for t in target)
        target = targets[0] if targets else ""
    elif isinstance(target, int | float | bool):
        target = str(target)
    if isinstance(rec.get("targets"), list):
        targets = tuple(str(t) for t in rec["targets"])
    choices = rec.get("choices")
    choice_tuple = tuple(str(c) for c in choices) if isinstance(choices, list) else ()
    given = rec.get("id")
    ex_id = str(given) if given not in (None, "") else f"line-{n}"
    return Example(ex_id, value, target, targets, choice_tuple), (
        None if given in (None, "") else str(given)
    )


def _warn_cut(path: Path, cut: list[int], limit: int) -> None:
    if not cut:
        return
    lines = ", ".join(map(str, cut[:10])) + (", ..." if len(cut) > 10 else "")
    warnings.warn(
        f"{path}: {len(cut)} input(s) longer than {limit} characters were cut to {limit} "
        f"(line(s) {lines}); raise --max-input-chars to keep more",
        TruncationWarning,
        stacklevel=4,  # the caller of task_from_file
    )


def _check_ids(path: Path, rows: list[Row], given: list[str | None]) -> None:
    first: dict[str, int] = {}
    for (n, _), ex_id in zip(rows, given, strict=True):
        if ex_id is None:
            continue
        if ex_id in first:
            raise DataError(
                f"id {ex_id!r} on line {n} was already used on line {first[ex_id]}",
                where=f"{path}:{n}",
                field="id",
                fix="give every example a distinct id (or drop the id column)",
            )
        first[ex_id] = n


def task_from_file(
    path: str | Path,
    *,
    input_field: str = "input",
    target_field: str = "target",
    labels: str | Sequence[str] | None = None,
    verbalizers: str | Sequence[str] | dict[str, str] | None = None,
    metric: str | None = None,
    template: str | None = None,
    name: str | None = None,
    split_field: str | None = None,
    seed: int = 0,
    max_input_chars: int = MAX_INPUT_CHARS,
) -> Task:
    """Build a task from a JSONL or CSV file.

    Args:
        path: The data file (``.jsonl``/``.json``/``.ndjson`` or ``.csv``/``.tsv``).
        input_field: The input field, or several comma-separated (a dict input, "pair" format).
        target_field: The gold answer's field (a list there means several acceptable answers).
        labels: Class names (list or comma string); inferred when the targets are a few
            repeated strings (at most 20); ``None`` and not inferred means generation.
        verbalizers: One word per label (list, comma string or dict); default the labels.
        metric: Metric name; default ``accuracy`` (classification) or ``exact_match``.
        template: Where prompt and input go; default ``DEFAULT_TEMPLATE``.
        name: Task name; default the file's stem.
        split_field: Field naming each line's split (train/dev/test/pool); a ``split``
            field is used when present. Without one: a seeded stratified split.
        seed: Seed of that split.
        max_input_chars: Longest input kept; longer ones are cut (a
            :class:`TruncationWarning` names their lines).

    Returns:
        The task.

    Raises:
        DataError: Naming the file, line, field and fix of whatever is wrong.
    """
    path = Path(path)
    _check_options(path, template, max_input_chars)
    rows = read_rows(path)
    inputs = as_list(input_field) or ["input"]
    examples = _examples(path, rows, inputs, target_field, max_input_chars)
    label_list, verbal = labels_and_verbalizers(
        path, rows, examples, labels, verbalizers, metric, target_field
    )
    splits = task_splits(path, rows, examples, split_field, label_list is not None, seed)
    return _task(path, name, inputs, examples, label_list, verbal, metric, template, splits)


def _check_options(path: Path, template: str | None, max_input_chars: int) -> None:
    """Check the template and the input limit before the file is read."""
    if template is not None:
        check_template(template, where=str(path))
    if max_input_chars < 1:
        raise DataError(
            f"max_input_chars must be at least 1, got {max_input_chars}",
            where=str(path),
            field="max_input_chars",
            fix="pass a positive limit (default 10000)",
        )


def _examples(
    path: Path, rows: list[Row], inputs: list[str], target_field: str, limit: int
) -> list[Example]:
    """Build every row's example; warn about cut inputs, then check the ids are distinct."""
    cut: list[int] = []
    built = [_example(path, row, inputs, target_field, limit, cut) for row in rows]
    _warn_cut(path, cut, limit)
    examples = [ex for ex, _ in built]
    _check_ids(path, rows, [given for _, given in built])
    return examples


def _task(
    path: Path,
    name: str | None,
    inputs: list[str],
    examples: list[Example],
    label_list: list[str] | None,
    verbal: dict[str, str],
    metric: str | None,
    template: str | None,
    splits: dict[str, list[Example]],
) -> Task:
    """Assemble the task; labels make it classification, their absence generation."""
    classification = label_list is not None
    input_format = "choices" if any(e.choices for e in examples) else "text"
    if len(inputs) > 1 or isinstance(examples[0].input, dict):
        input_format = "pair"
    kind: Kind = "classification" if classification else "generation"
    return Task(
        name=name or path.stem,
        kind=kind,
        metric=metric or ("accuracy" if classification else "exact_match"),
        labels=tuple(label_list or ()),
        verbalizers=verbal,
        template=template or DEFAULT_TEMPLATE,
        input_format=input_format,
        description=f"{kind} task from {path.name} ({len(examples)} examples)",
        splits=splits,
        source=str(path),
    )
