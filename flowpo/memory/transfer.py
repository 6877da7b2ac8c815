"""Export and import files of the memory: JSON lines, one record per line, no embeddings."""

from __future__ import annotations

import json
from pathlib import Path

from flowpo.errors import DataError
from flowpo.memory.index import atomic_write
from flowpo.memory.records import MemoryRecord, parse_jsonl


def export_records(records: list[MemoryRecord], file: Path) -> int:
    """Write ``records`` to ``file`` atomically as JSON lines; return how many.

    Raises:
        DataError: The file cannot be written.
    """
    lines = [json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) for r in records]
    text = "".join(line + "\n" for line in lines)
    try:
        atomic_write(file, text.encode("utf-8"))
    except OSError as e:
        raise DataError(
            f"cannot write the export file: {e.strerror or e}",
            where=str(file),
            fix="choose a path in an existing, writable directory",
        ) from e
    return len(records)


def read_records(file: Path) -> list[MemoryRecord]:
    """Read and check every record of an export file (nothing is stored here).

    Raises:
        DataError: The file is unreadable or not UTF-8, or a line is bad (naming
            ``file:line`` and the field).
    """
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"not a UTF-8 text file (byte {e.start})",
            where=str(file),
            fix="import a JSON-lines file written by `flowpo memory export`",
        ) from e
    except OSError as e:
        raise DataError(
            f"cannot read the import file: {e.strerror or e}",
            where=str(file),
            fix="check the path",
        ) from e
    # Split at "\n" only: exported JSON holds U+2028 and friends unescaped (ensure_ascii=False).
    return parse_jsonl(text.split("\n"), str(file))
