"""Which memory records a run read, and how a later run reads exactly those again.

Every search a run makes adds its hits to ``memory_read.json`` in the run directory (ids
with their kind, run and task). Giving that file to a later run (``--memory-snapshot``)
restricts its memory to those records: the same searches then return the same hits
(the best ``k`` of a set that holds the first run's best ``k`` are the same ``k``), so
with the same command and seed the run repeats exactly, however much the shared memory
has grown since.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flowpo.errors import ConfigError
from flowpo.memory.records import MemoryRecord

READ_FILE = "memory_read.json"
"""The run directory's list of the memory records the run read."""


def load_snapshot(file: Path | str) -> list[int]:
    """Return the record ids a snapshot file names.

    Args:
        file: A run's ``memory_read.json``, a run directory holding one, or a JSON list
            of ids (or of objects with an ``id``).

    Raises:
        ConfigError: The file is missing or is not one of those forms.
    """
    path = Path(file)
    if path.is_dir():
        path = path / READ_FILE
    fix = f"give a run's {READ_FILE} (or a JSON list of record ids)"
    try:
        raw: Any = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot read the memory snapshot: {e}", field="memory_snapshot", fix=fix
        ) from None
    items: Any = raw.get("records") if isinstance(raw, dict) else raw
    try:
        return sorted({int(i["id"] if isinstance(i, dict) else i) for i in items})
    except (TypeError, ValueError, KeyError):
        raise ConfigError(
            f"{path} is not a memory snapshot", field="memory_snapshot", fix=fix
        ) from None


class ReadLog:
    """The records a run read, kept in its run directory (merged across resumes)."""

    def __init__(self, path: Path, memory: Path | str, snapshot: Path | str | None) -> None:
        """Open the log at ``path``, keeping what an earlier process of the run wrote."""
        self.path = path
        self.memory, self.snapshot = str(memory), None if snapshot is None else str(snapshot)
        self.records: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        try:
            old = json.loads(path.read_text()).get("records", [])
            self.records = {int(r["id"]): dict(r) for r in old}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            pass

    def add(self, records: Iterable[MemoryRecord]) -> None:
        """Remember ``records`` as read; rewrite the file (atomically) when one is new."""
        with self._lock:
            new = {
                int(r.id): {"id": int(r.id), "kind": r.kind, "run": r.run, "task": r.task}
                for r in records
                if r.id is not None and int(r.id) not in self.records
            }
            if not new:
                return
            self.records.update(new)
            body = {
                "memory": self.memory,
                "snapshot": self.snapshot,
                "records": [self.records[i] for i in sorted(self.records)],
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps(body, indent=1))
            os.replace(tmp, self.path)
