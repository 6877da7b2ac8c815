"""What the experience memory stores: :class:`MemoryRecord`, its kinds, and its JSON form."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from flowpo.errors import DataError

KINDS = ("prompt", "section", "reason", "summary", "operator_outcome", "q_table", "task")
"""Record kinds: evaluated prompts and sections (with scores), bad-case reasons and their
summaries, operator outcomes, learnt Q tables (text: the task description, ``data["q_table"]``:
``QTable.to_dict()``), and task descriptions."""

REQUIRED = {"kind": str, "text": str, "task": str, "run": str, "model": str}
"""Fields every record (and every line of an import file) must have, with their types."""
OPTIONAL = ("score", "data", "id", "created")
"""Fields a record may leave out (``id`` is ignored on import: the memory assigns ids)."""


@dataclass
class MemoryRecord:
    """One remembered item.

    Attributes:
        kind: One of :data:`KINDS`.
        text: What is embedded and searched (a prompt, a section, a reason, a task description).
        task: The task it belongs to (e.g. ``sst2``).
        run: The run that produced it.
        model: The target model it was scored with.
        score: Its score in [0, 1], when it has one.
        data: Anything else, JSON-ready (section name, operator, Q table, gains...).
        id: Assigned by the memory when stored.
        created: Unix time it was stored (set by the memory when ``None``).
    """

    kind: str
    text: str
    task: str
    run: str
    model: str
    score: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    created: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return every field as a JSON-ready dict (the export line format)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "task": self.task,
            "run": self.run,
            "model": self.model,
            "created": self.created,
            "text": self.text,
            "score": self.score,
            "data": self.data,
        }


_FIX = "import a file written by `flowpo memory export` (one record per line)"


def check_record(record: MemoryRecord, where: str = "record") -> None:
    """Raise DataError if ``record`` has a bad kind, field type, score or data."""
    for name, typ in REQUIRED.items():
        if not isinstance(getattr(record, name), typ):
            raise DataError(f"{name} must be a string", where=where, field=name, fix=_FIX)
    if record.kind not in KINDS:
        raise DataError(
            f"unknown record kind {record.kind!r}",
            where=where,
            field="kind",
            fix=f"use one of: {', '.join(KINDS)}",
        )
    if record.score is not None and not _is_number(record.score):
        raise DataError(
            "score must be a finite number or null", where=where, field="score", fix=_FIX
        )
    if record.created is not None and not _is_number(record.created):
        raise DataError(
            "created must be a finite number or null", where=where, field="created", fix=_FIX
        )
    if not isinstance(record.data, dict):
        raise DataError("data must be a JSON object", where=where, field="data", fix=_FIX)
    try:
        json.dumps(record.data, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise DataError(f"data is not JSON-ready: {e}", where=where, field="data", fix=_FIX) from e


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def record_from_dict(obj: Any, where: str) -> MemoryRecord:
    """Build a record from one parsed export line, checking every field.

    Raises:
        DataError: Not an object, a missing or unknown field, or a field of the wrong type.
    """
    if not isinstance(obj, dict):
        raise DataError("a record must be a JSON object", where=where, fix=_FIX)
    for name in REQUIRED:
        if name not in obj:
            raise DataError(
                "missing field",
                where=where,
                field=name,
                fix=f"every record needs: {', '.join(REQUIRED)}; {_FIX}",
            )
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise DataError(
            "unknown field",
            where=where,
            field=unknown[0],
            fix=f"records have only: {', '.join([*REQUIRED, *OPTIONAL])}",
        )
    if obj.get("id") is not None and not (isinstance(obj["id"], int) and obj["id"] > 0):
        raise DataError("id must be a positive integer or null", where=where, field="id", fix=_FIX)
    record = MemoryRecord(
        kind=obj["kind"],
        text=obj["text"],
        task=obj["task"],
        run=obj["run"],
        model=obj["model"],
        score=obj.get("score"),
        data=obj["data"] if obj.get("data") is not None else {},
        created=obj.get("created"),
    )
    check_record(record, where)
    if record.score is not None:
        record.score = float(record.score)
    if record.created is not None:
        record.created = float(record.created)
    return record


def parse_jsonl(lines: list[str], source: str) -> list[MemoryRecord]:
    """Parse and check every line of an export file before anything is stored.

    Blank lines are skipped. Errors name ``source:line`` and the field at fault.

    Raises:
        DataError: The first bad line.
    """
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"not valid JSON ({e.msg} at column {e.colno})",
                where=where,
                fix="each line must be one record as written by `flowpo memory export`",
            ) from None
        out.append(record_from_dict(obj, where))
    return out
