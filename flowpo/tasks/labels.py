"""The labels of a classification file: given or inferred, checked, and their verbalizers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from flowpo.errors import DataError
from flowpo.tasks.reading import Row
from flowpo.types import Example

MAX_INFERRED_LABELS = 20
CLASSIFICATION_METRICS = frozenset({"accuracy", "macro_f1", "micro_f1", "f1"})


def as_list(value: str | Sequence[str] | None) -> list[str] | None:
    """Return a list from a list or a comma-separated string (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


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


def labels_and_verbalizers(
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
