"""Turn a user's JSONL or CSV file into a task, checking every line on the way.

JSONL files hold one object per line; CSV (and TSV) files have a header row. Every error
names the file, the line, the field and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import random
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from flowpo.errors import DataError
from flowpo.prompt import DEFAULT_TEMPLATE, check_template
from flowpo.tasks.task import SPLITS, Kind, Task
from flowpo.types import Example

T = TypeVar("T")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
FILE_SUFFIXES = JSONL_SUFFIXES + CSV_SUFFIXES
MAX_INFERRED_LABELS = 20
PER_CLASS = 16
"""Default train and dev examples per class of a classification file."""
PER_SPLIT = 32
"""Default train and dev examples of a generation file."""
CLASSIFICATION_METRICS = frozenset({"accuracy", "macro_f1", "micro_f1", "f1"})
MAX_INPUT_CHARS = 10_000
"""Default longest example input kept; longer inputs are cut with a warning."""

Row = tuple[int, dict[str, Any]]
"""A line number (1-based) and the record found there."""


class SplitWarning(UserWarning):
    """A data file was too small for the default split sizes."""


class TruncationWarning(UserWarning):
    """Some example inputs were longer than the limit and were cut."""


def seeded_split(
    items: Sequence[T],
    counts: Sequence[int],
    *,
    seed: int,
    key: Callable[[T], Hashable] | None = None,
) -> list[list[T]]:
    """Deal ``items`` into ``len(counts)`` parts plus a last part holding the rest.

    Args:
        items: What to split; each part keeps the items' order.
        counts: Size of each part, per class when ``key`` is given (stratified).
        seed: Seed of the shuffle that decides which items go where.
        key: The class of an item, or ``None`` for an unstratified split.

    Returns:
        ``len(counts) + 1`` lists.
    """
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    taken: list[Counter[Hashable]] = [Counter() for _ in counts]
    parts: list[list[int]] = [[] for _ in range(len(counts) + 1)]
    for i in order:
        k = key(items[i]) if key else None
        for p, count in enumerate(counts):
            if taken[p][k] < count:
                taken[p][k] += 1
                parts[p].append(i)
                break
        else:
            parts[-1].append(i)
    return [[items[i] for i in sorted(part)] for part in parts]


def halve(
    items: Sequence[T], *, seed: int, key: Callable[[T], Hashable] | None = None
) -> tuple[list[T], list[T]]:
    """Split ``items`` into two seeded halves (per class when ``key`` is given).

    Items are shuffled, grouped by class and dealt alternately, so each class and the
    whole split differ by at most one between halves (the first gets the odd one out).
    Both halves keep the items' order.
    """
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    if key is not None:
        rank: dict[Hashable, int] = {}
        for i in order:
            rank.setdefault(key(items[i]), len(rank))
        order.sort(key=lambda i: rank[key(items[i])])
    first, second = sorted(order[0::2]), sorted(order[1::2])
    return [items[i] for i in first], [items[i] for i in second]


def as_list(value: str | Sequence[str] | None) -> list[str] | None:
    """Return a list from a list or a comma-separated string (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _decode(path: Path, raw: bytes) -> str:
    """Decode UTF-8 (a BOM is allowed), naming the line of the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"line {line} is not valid UTF-8 (byte {raw[e.start]:#04x} at offset {e.start})",
            where=f"{path}:{line}",
            fix="save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`",
        ) from None


def _jsonl_rows(path: Path, text: str) -> Iterator[Row]:
    # Lines end at "\n" only: JSON strings may hold U+2028 and friends unescaped.
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"line {n} is not valid JSON: {e.msg} (column {e.colno})",
                where=f"{path}:{n}",
                fix='write one JSON object per line, e.g. {"input": "...", "target": "..."}',
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"line {n} holds a JSON {type(record).__name__}, not an object",
                where=f"{path}:{n}",
                fix='write one JSON object per line, e.g. {"input": "...", "target": "..."}',
            )
        yield n, record


def _csv_rows(path: Path, text: str) -> Iterator[Row]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = reader.fieldnames or []
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(
            f"the header repeats the column(s) {dup}",
            where=f"{path}:1",
            fix="give every column a distinct name",
        )
    start = 2
    for record in reader:
        n = start
        start = reader.line_num + 1
        if None in record:
            raise DataError(
                f"line {n} has more values than the header has columns ({len(header)})",
                where=f"{path}:{n}",
                fix="quote values that contain the delimiter, or fix the header",
            )
        yield n, {k: v for k, v in record.items() if v is not None}


def read_rows(path: str | Path) -> list[Row]:
    """Read a JSONL or CSV file into ``(line number, record)`` pairs, checking every line.

    Raises:
        DataError: The file is missing, empty, not UTF-8, or has a malformed line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "the data file does not exist" if not path.exists() else "not a file",
            where=str(path),
            field="path",
            fix="check the path (a built-in task name is not a path)",
        )
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise DataError(
            f"unknown data file type {suffix or '(none)'!r}",
            where=str(path),
            field="path",
            fix=f"use a file ending in {', '.join(FILE_SUFFIXES)}",
        )
    text = _decode(path, path.read_bytes())
    rows = list(_csv_rows(path, text) if suffix in CSV_SUFFIXES else _jsonl_rows(path, text))
    if not rows:
        raise DataError(
            "the file holds no examples",
            where=str(path),
            fix="add one example per line (CSV: a header row, then one row each)",
        )
    return rows


def _need(path: Path, n: int, record: dict[str, Any], name: str, flag: str) -> Any:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        have = ", ".join(repr(k) for k in record) or "none"
        raise DataError(
            f"line {n} has no value for {name!r}; its fields are {have}",
            where=f"{path}:{n}",
            field=name,
            fix=f"add the field to every line, or pass {flag} <one of its fields>",
        )
    return value


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
        kept, was_cut = _cut(_need(path, n, rec, f, "--input-field"), limit)
        values.append(kept)
        if was_cut and (not cut or cut[-1] != n):
            cut.append(n)
    value: Any = values[0] if len(values) == 1 else dict(zip(inputs, values, strict=True))
    if not isinstance(value, str | dict):
        value = str(value)
    target = _need(path, n, rec, target_field, "--target-field")
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
        stacklevel=3,
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


def _infer_labels(examples: list[Example]) -> list[str] | None:
    """Return the label set if the targets look like classes, else ``None``."""
    if not all(isinstance(e.target, str) and not e.targets for e in examples):
        return None
    counts = Counter(str(e.target) for e in examples)
    if not 2 <= len(counts) <= MAX_INFERRED_LABELS or min(counts.values()) < 2:
        return None
    labels = list(counts)  # first-seen order
    if all(lab.lstrip("-").isdigit() for lab in labels):
        labels.sort(key=int)
    return labels


def _verbalizers(
    path: Path, labels: list[str], words: str | Sequence[str] | dict[str, str] | None
) -> dict[str, str]:
    if isinstance(words, dict):
        missing = [lab for lab in labels if lab not in words]
        if missing:
            raise DataError(
                f"labels without a verbalizer: {missing}",
                where=str(path),
                field="verbalizers",
                fix="give one word for every label",
            )
        return {lab: words[lab] for lab in labels}
    given = as_list(words)
    if given is None:
        return {lab: lab for lab in labels}
    if len(given) != len(labels):
        raise DataError(
            f"{len(given)} verbalizers {given} for {len(labels)} labels {labels}",
            where=str(path),
            field="verbalizers",
            fix="give exactly one word per label, in the labels' order",
        )
    return dict(zip(labels, given, strict=True))


def _check_labels(
    path: Path, rows: list[Row], examples: list[Example], labels: list[str], target_field: str
) -> None:
    allowed = set(labels)
    for (n, _), ex in zip(rows, examples, strict=True):
        if ex.target not in allowed:
            raise DataError(
                f"line {n} has label {ex.target!r}, which is not one of {labels}",
                where=f"{path}:{n}",
                field=target_field,
                fix="fix the line, or add the label to --labels",
            )


def _classes(
    path: Path,
    rows: list[Row],
    examples: list[Example],
    labels: str | Sequence[str] | None,
    verbalizers: str | Sequence[str] | dict[str, str] | None,
    metric: str | None,
    target_field: str,
) -> tuple[list[str] | None, dict[str, str]]:
    """Return the label list (``None``: generation) and the verbalizers, checked."""
    label_list = as_list(labels)
    if label_list is None and (metric is None or metric in CLASSIFICATION_METRICS):
        label_list = _infer_labels(examples)
    if label_list is None:
        if verbalizers is not None:
            raise DataError(
                "verbalizers were given but the task has no labels",
                where=str(path),
                field="verbalizers",
                fix="pass --labels too, or drop --verbalizers",
            )
        return None, {}
    _check_labels(path, rows, examples, label_list, target_field)
    return label_list, _verbalizers(path, label_list, verbalizers)


def _file_splits(
    path: Path,
    rows: list[Row],
    examples: list[Example],
    split_field: str,
) -> dict[str, list[Example]]:
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for (n, rec), ex in zip(rows, examples, strict=True):
        value = str(_need(path, n, rec, split_field, "--split-field")).strip().lower()
        if value not in splits:
            raise DataError(
                f"line {n} names split {value!r}",
                where=f"{path}:{n}",
                field=split_field,
                fix=f"use one of: {', '.join(SPLITS)}",
            )
        splits[value].append(ex)
    return splits


def _seeded_splits(
    path: Path,
    examples: list[Example],
    classification: bool,
    seed: int,
) -> dict[str, list[Example]]:
    """Split train/dev/test: 16/16/rest per class, or 32/32/rest; smaller if the file is."""
    if classification:
        smallest = min(Counter(e.target for e in examples).values())
        size, default, unit = smallest, PER_CLASS, " per class"
    else:
        size, default, unit = len(examples), PER_SPLIT, ""
    k = default
    while k > 1 and size < 3 * k:
        k //= 2
    if k != default:
        warnings.warn(
            f"{path}: only {size} examples{unit}, too few for {default}/{default}/rest; "
            f"using {k}/{k}/rest{unit} for train/dev/test (or add a 'split' column)",
            SplitWarning,
            stacklevel=3,
        )
    key = (lambda e: e.target) if classification else None
    train, dev, test = seeded_split(examples, [k, k], seed=seed, key=key)
    return {"train": train, "dev": dev, "test": test, "pool": []}


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
    if template is not None:
        check_template(template, where=str(path))
    if max_input_chars < 1:
        raise DataError(
            f"max_input_chars must be at least 1, got {max_input_chars}",
            where=str(path),
            field="max_input_chars",
            fix="pass a positive limit (default 10000)",
        )
    rows = read_rows(path)
    inputs = as_list(input_field) or ["input"]
    cut: list[int] = []
    built = [_example(path, row, inputs, target_field, max_input_chars, cut) for row in rows]
    _warn_cut(path, cut, max_input_chars)
    examples = [ex for ex, _ in built]
    _check_ids(path, rows, [given for _, given in built])
    label_list, verbal = _classes(path, rows, examples, labels, verbalizers, metric, target_field)
    if split_field is None and all("split" in rec for _, rec in rows):
        split_field = "split"
    classification = label_list is not None
    if split_field is not None:
        splits = _file_splits(path, rows, examples, split_field)
    else:
        splits = _seeded_splits(path, examples, classification, seed)
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
