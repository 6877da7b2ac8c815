"""Split a task's examples: seeded and stratified, in halves, or as a data file names them."""

from __future__ import annotations

import random
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TypeVar

from flowpo.errors import DataError
from flowpo.tasks.reading import Row, field_value
from flowpo.tasks.task import SPLITS
from flowpo.types import Example

T = TypeVar("T")
PER_CLASS = 16
"""Default train and dev examples per class of a classification file."""
PER_SPLIT = 32
"""Default train and dev examples of a generation file."""


class SplitWarning(UserWarning):
    """A data file was too small for the default split sizes."""


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


def file_splits(
    path: Path,
    rows: list[Row],
    examples: list[Example],
    split_field: str,
) -> dict[str, list[Example]]:
    """Split the examples as each line's ``split_field`` says (train/dev/test/pool)."""
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for (n, rec), ex in zip(rows, examples, strict=True):
        value = str(field_value(path, n, rec, split_field, "--split-field")).strip().lower()
        if value not in splits:
            raise DataError(
                f"line {n} names split {value!r}",
                where=f"{path}:{n}",
                field=split_field,
                fix=f"use one of: {', '.join(SPLITS)}",
            )
        splits[value].append(ex)
    return splits


def seeded_splits(
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
            stacklevel=4,  # the caller of task_from_file
        )
    key = (lambda e: e.target) if classification else None
    train, dev, test = seeded_split(examples, [k, k], seed=seed, key=key)
    return {"train": train, "dev": dev, "test": test, "pool": []}


def task_splits(
    path: Path,
    rows: list[Row],
    examples: list[Example],
    split_field: str | None,
    classification: bool,
    seed: int,
) -> dict[str, list[Example]]:
    """Return the splits ``split_field`` names (``split`` if every line has one), else seeded."""
    if split_field is None and all("split" in rec for _, rec in rows):
        split_field = "split"
    if split_field is not None:
        return file_splits(path, rows, examples, split_field)
    return seeded_splits(path, examples, classification, seed)
