"""Read a JSONL or CSV data file into numbered records, checking every line.

JSONL files hold one object per line; CSV (and TSV) files have a header row. Every error
names the file, the line, the field and the fix.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flowpo.errors import DataError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
FILE_SUFFIXES = JSONL_SUFFIXES + CSV_SUFFIXES

Row = tuple[int, dict[str, Any]]
"""A line number (1-based) and the record found there."""


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


def field_value(path: Path, n: int, record: dict[str, Any], name: str, flag: str) -> Any:
    """Return the record's value for ``name``; a missing or blank one is a DataError.

    ``flag`` is the command-line option that names another field instead.
    """
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
