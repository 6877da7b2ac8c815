"""Dataset: your examples by split, with your field names, for ``flowpo.optimize``.

``flowpo.optimize(dataset=Dataset(train=[...], dev=[...], test=[...],
input_field="question", target_field="answer"), ...)`` (or ``examples=Dataset(...)``)
optimizes on the splits you chose; ``Dataset.from_file("qa.jsonl", split_field="part")``
reads them from a JSONL or CSV file whose lines name their split. Every example is a
dict; fields besides the input and target ones are kept (a chat program with several
template variables reads them, see :class:`flowpo.ChatProgram`). Every problem is found
when the dataset is built, naming the split, the example and the field.

Example:
    >>> from flowpo import Dataset
    >>> ds = Dataset(train=[{"q": "2+2", "a": "4"}], dev=[{"q": "1+1", "a": "2"}],
    ...              input_field="q", target_field="a")
    >>> ds.sizes()
    {'train': 1, 'dev': 1}
    >>> ds.rows()[1]
    {'q': '1+1', 'a': '2', 'split': 'dev'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flowpo.errors import DataError
from flowpo.tasks.reading import read_rows
from flowpo.tasks.task import SPLITS

SPLIT_KEY = "split"
"""The field each row's split is written under (``examples.jsonl`` in the run directory)."""
REQUIRED = ("train", "dev")
"""train is scored to search, dev picks the final prompt: a run needs both."""
_FIX = 'Dataset(train=[{"input": ..., "target": ...}, ...], dev=[...], test=[...])'


def _fields(value: str | Sequence[str], name: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else list(value)
    fields = tuple(f.strip() for n in names for f in str(n).split(",") if f.strip())
    if not fields:
        raise DataError(
            f"{name} is empty", field=name, fix=f"give the field name, e.g. {name}='input'"
        )
    if SPLIT_KEY in fields:
        raise DataError(
            f"{name} names the field {SPLIT_KEY!r}, which a dataset uses for the split",
            field=name,
            fix=f"rename that field in your examples (every row's split goes under {SPLIT_KEY!r})",
        )
    return fields


class Dataset:
    """Examples by split (train, dev, test, pool), each a dict with your field names.

    Attributes:
        splits: Split name -> its examples (copies of the dicts given), in order.
        input_fields: The field(s) holding an example's input (several: a dict input).
        target_field: The field holding the gold answer.
    """

    def __init__(
        self,
        train: Sequence[Mapping[str, Any]] | None = None,
        dev: Sequence[Mapping[str, Any]] | None = None,
        test: Sequence[Mapping[str, Any]] | None = None,
        pool: Sequence[Mapping[str, Any]] | None = None,
        *,
        input_field: str | Sequence[str] = "input",
        target_field: str = "target",
    ) -> None:
        """Check and keep the splits.

        Args:
            train: The examples the search scores (required).
            dev: The examples that pick the final prompt (required).
            test: Scored once at the end (optional).
            pool: Demonstrations for few-shot edits, kept apart from train (optional).
            input_field: The input's field, or several (a list or ``"question,context"``).
            target_field: The gold answer's field.

        Raises:
            DataError: A required split missing, a split empty or not a list of dicts, or an
                example without the input or target field (naming split, index, field, fix).
        """
        self.input_fields = _fields(input_field, "input_field")
        self.target_field = _fields(target_field, "target_field")[0]
        given = {"train": train, "dev": dev, "test": test, "pool": pool}
        for name in REQUIRED:
            if given[name] is None:
                raise DataError(
                    f"the dataset has no {name} split",
                    field=name,
                    fix=f"give {name}=[...]: " + _FIX,
                )
        self.splits: dict[str, list[dict[str, Any]]] = {
            name: self._check(name, rows) for name, rows in given.items() if rows is not None
        }

    def _check(self, split: str, rows: Any) -> list[dict[str, Any]]:
        if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):
            raise DataError(
                f"{split} is a {type(rows).__name__}, not a list of examples",
                field=split,
                fix=f"give {split}=[{{...}}, ...]: " + _FIX,
            )
        if not rows:
            raise DataError(
                f"the {split} split is empty",
                field=split,
                fix=f"add examples to {split}"
                + (f", or leave {split} out" if split not in REQUIRED else ""),
            )
        out = []
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise DataError(
                    f"{split}[{i}] is a {type(row).__name__}, not a dict",
                    field=f"{split}[{i}]",
                    fix="give every example as a dict of fields: " + _FIX,
                )
            for name in (*self.input_fields, self.target_field):
                value = row.get(name)
                if value is None or (isinstance(value, str) and not value.strip()):
                    role = "target_field" if name == self.target_field else "input_field"
                    have = ", ".join(repr(k) for k in row) or "none"
                    raise DataError(
                        f"{split}[{i}] has no value for {name!r}; its fields are {have}",
                        field=f"{split}[{i}].{name}",
                        fix=f"add {name!r} to every example, or pass {role}=<one of its fields>",
                    )
            out.append({k: v for k, v in row.items() if k != SPLIT_KEY})
        return out

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[Mapping[str, Any]],
        *,
        split_field: str = SPLIT_KEY,
        input_field: str | Sequence[str] = "input",
        target_field: str = "target",
    ) -> Dataset:
        """Build a dataset from one list of examples whose ``split_field`` names their split.

        Raises:
            DataError: A row without a split, or naming an unknown one (and see ``__init__``).
        """
        splits: dict[str, list[Mapping[str, Any]]] = {}
        for i, row in enumerate(rows):
            value = row.get(split_field) if isinstance(row, Mapping) else None
            name = str(value).strip().lower() if value is not None else ""
            if name not in SPLITS:
                raise DataError(
                    f"example {i} names the split {value!r}"
                    if value
                    else f"example {i} has no split",
                    field=f"examples[{i}].{split_field}",
                    fix=f"give each example a {split_field!r} field, one of: {', '.join(SPLITS)}",
                )
            splits.setdefault(name, []).append({k: v for k, v in row.items() if k != split_field})
        return cls(**splits, input_field=input_field, target_field=target_field)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        split_field: str = SPLIT_KEY,
        input_field: str | Sequence[str] = "input",
        target_field: str = "target",
    ) -> Dataset:
        """Read a JSONL or CSV file whose lines name their split in ``split_field``.

        A file without a split column is a task instead: ``flowpo.optimize(task=path)``
        splits it (seeded).

        Raises:
            DataError: The file is missing or malformed, or a line has no known split (the
                message names the file, line, field and fix).
        """
        path = Path(path)
        records = read_rows(path)
        for n, rec in records:
            if str(rec.get(split_field, "")).strip().lower() not in SPLITS:
                raise DataError(
                    f"line {n} has no known split in {split_field!r} ({rec.get(split_field)!r})",
                    where=f"{path}:{n}",
                    field=split_field,
                    fix=f"give every line a {split_field!r} of {', '.join(SPLITS)}, pass "
                    "split_field=<your split column>, or pass task=<path> to let flowpo split it",
                )
        return cls.from_rows(
            [rec for _, rec in records],
            split_field=split_field,
            input_field=input_field,
            target_field=target_field,
        )

    def sizes(self) -> dict[str, int]:
        """Return the number of examples in each split."""
        return {name: len(rows) for name, rows in self.splits.items()}

    def rows(self) -> list[dict[str, Any]]:
        """Return every example as one dict with its split under ``"split"``, split by split."""
        return [{**row, SPLIT_KEY: name} for name, rows in self.splits.items() for row in rows]

    def data_options(self) -> dict[str, str]:
        """Return the data options that read :meth:`rows` back (input/target/split fields)."""
        return {
            "input_field": ",".join(self.input_fields),
            "target_field": self.target_field,
            "split_field": SPLIT_KEY,
        }

    def __repr__(self) -> str:
        """Show the sizes and fields."""
        return (
            f"Dataset({self.sizes()}, input_field={','.join(self.input_fields)!r}, "
            f"target_field={self.target_field!r})"
        )
