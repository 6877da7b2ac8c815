"""The experience memory: records in SQLite, their vectors in a FAISS cache, shared by runs.

Writes take an inter-process file lock, commit all their rows in one SQLite transaction,
then rewrite the FAISS index atomically; a process killed at any point leaves a memory
that opens (SQLite rolls back the unfinished transaction, and an index that does not
match the records is rebuilt from the stored embeddings, with a :class:`MemoryWarning`).
Readers never take the lock: they refresh their in-process index when the write
generation in SQLite moves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowpo.errors import ConfigError
from flowpo.memory import db, transfer
from flowpo.memory.core import MemoryWarning, StoreCore, default_memory_dir
from flowpo.memory.embeddings import Embedder
from flowpo.memory.index import VectorIndex
from flowpo.memory.records import KINDS, MemoryRecord, check_record
from flowpo.memory.snapshot import ReadLog

__all__ = ["MemoryStore", "MemoryWarning", "default_memory_dir"]


class MemoryStore(StoreCore):
    """Records searchable by meaning, kept in a directory several processes may share.

    Args:
        path: The memory directory (default :func:`default_memory_dir`).
        embedder: Embeds texts; must be the model that built the memory. ``None`` opens
            an existing memory for stats, export and forget only.
        create: Create the memory if it does not exist (else DataError).
        reembed: If the memory was built with another model, re-embed every record with
            ``embedder`` instead of raising ConfigError.
        only: Let searches see only these record ids (a snapshot: ``--memory-snapshot``).
        read_log: Note every record a search returns (a run's ``memory_read.json``).

    Raises:
        ConfigError: The memory was built with another embedding model or dimension.
        DataError: ``memory.sqlite`` is unreadable or not a flowpo memory (left untouched).
    """

    def __init__(
        self,
        path: Path | str | None = None,
        embedder: Embedder | None = None,
        *,
        create: bool = True,
        reembed: bool = False,
        only: Sequence[int] | None = None,
        read_log: ReadLog | None = None,
    ) -> None:
        """Open (or create) the memory and make its index match its records."""
        self._connect(path, embedder, create, reembed)
        self.only = None if only is None else frozenset(int(i) for i in only)
        self.read_log = read_log

    # -- writes --------------------------------------------------------------------------

    def add(self, records: Sequence[MemoryRecord]) -> list[int]:
        """Store ``records`` (all or none) and return their ids.

        Each record's ``id`` (and ``created``, when unset) is filled in.

        Raises:
            DataError: A record has a bad kind or field (nothing is stored).
        """
        return self._insert(records, skip_existing=False)

    def _insert(self, records: Sequence[MemoryRecord], *, skip_existing: bool) -> list[int]:
        for n, record in enumerate(records):
            check_record(record, f"record {n}")
        if not records:
            return []
        vectors = self._embed([r.text for r in records])
        now = time.time()
        ids: list[int] = []
        with self._locked():
            with db.write_tx(self._conn):
                for record, vector in zip(records, vectors, strict=True):
                    record.created = now if record.created is None else float(record.created)
                    if skip_existing and db.exists(self._conn, record):
                        continue
                    record.id = db.insert(self._conn, record, vector.astype("<f4").tobytes())
                    ids.append(record.id)
                if ids:
                    db.bump_generation(self._conn)
            self._sync()
            self._save()
        return ids

    def export(self, file: Path | str) -> int:
        """Write every record (no embeddings) as JSON lines to ``file``; return the count."""
        return transfer.export_records(self.records(), Path(file))

    def import_(self, file: Path | str) -> int:
        """Add the records of an export file, re-embedding their texts; return how many.

        Every line is checked before anything is stored; records already in the memory
        (same fields, any id) are skipped, so importing a file twice adds nothing.

        Raises:
            DataError: The file is unreadable, or a line is bad (naming line and field);
                the memory is then unchanged.
        """
        return len(self._insert(transfer.read_records(Path(file)), skip_existing=True))

    def forget(self, run: str) -> int:
        """Delete every record of ``run``; return how many were deleted."""
        with self._locked():
            with db.write_tx(self._conn):
                n = self._conn.execute("DELETE FROM records WHERE run=?", (run,)).rowcount
                if n:
                    db.bump_generation(self._conn)
            self._sync()
            self._save()
        return int(n)

    def reembed(self, embedder: Embedder) -> int:
        """Re-embed every record with ``embedder`` in one transaction; return the count."""
        with self._locked():
            n = self._reembed_rows(embedder)
            self._index, self._generation = VectorIndex(self._dim), -1
            self._sync()
            self._save()
        return n

    # -- reads ---------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        kind: str | None = None,
        task: str | None = None,
        exclude_task: str | None = None,
        run: str | None = None,
        exclude_run: str | None = None,
        min_score: float | None = None,
    ) -> list[tuple[MemoryRecord, float]]:
        """Return up to ``k`` records most similar to ``query``, with their similarity.

        Filters select the records first (exactly, not by over-fetching); hits are ordered
        by similarity, then by id, so the same memory always gives the same answer.
        ``min_score`` keeps only records whose score is at least that.
        """
        if kind is not None and kind not in KINDS:
            raise ConfigError(
                f"unknown record kind {kind!r}", field="kind", fix=f"use one of: {', '.join(KINDS)}"
            )
        clauses, params = _filters(kind, task, exclude_task, run, exclude_run, min_score)
        query_vec = self._embed([query])[0]
        with self._mutex:
            self._sync()
            allowed = None
            if clauses:
                sql = f"SELECT id FROM records WHERE {' AND '.join(clauses)}"
                allowed = [int(r[0]) for r in self._conn.execute(sql, params)]
            if self.only is not None:
                allowed = sorted(
                    i for i in (self.only if allowed is None else allowed) if i in self.only
                )
            hits = self._index.search(query_vec, k, allowed)
            by_id = {r.id: r for r in self.get([i for i, _ in hits])}
        found = [(by_id[i], sim) for i, sim in hits if i in by_id]
        self.note_read([r for r, _ in found])
        return found

    def find(
        self, *, kind: str, task: str, model: str, exclude_run: str | None = None
    ) -> list[MemoryRecord]:
        """Return the records of ``kind``, ``task`` and ``model`` this run may read, by id.

        An exact lookup (no similarity) that honours a snapshot (``only``), unlike
        ``records`` (stats, export). Reads are not logged: note what is used with
        ``note_read``.
        """
        clauses, params = _filters(kind, task, None, None, exclude_run, None, model)
        found = self.records(" AND ".join(clauses), params)
        return [r for r in found if self.only is None or r.id in self.only]

    def note_read(self, records: Sequence[MemoryRecord]) -> None:
        """Note ``records`` in the run's read log (``memory_read.json``), if it keeps one."""
        if self.read_log is not None:
            self.read_log.add(records)

    def get(self, ids: Sequence[int]) -> list[MemoryRecord]:
        """Return the records with these ids, in the given order (unknown ids skipped)."""
        found: dict[int, MemoryRecord] = {}
        with self._mutex:
            for start in range(0, len(ids), 500):
                chunk = [int(i) for i in ids[start : start + 500]]
                marks = ",".join("?" * len(chunk))
                for row in db.select(self._conn, f"id IN ({marks})", tuple(chunk)):
                    rec = db.row_to_record(row)
                    found[int(rec.id or 0)] = rec
        return [found[int(i)] for i in ids if int(i) in found]

    def records(self, where: str = "", params: tuple[Any, ...] = ()) -> list[MemoryRecord]:
        """Return every record (or those an SQL ``where`` clause selects), by id."""
        with self._mutex:
            return [db.row_to_record(r) for r in db.select(self._conn, where, params)]

    def __len__(self) -> int:
        """Return how many records are stored."""
        with self._mutex:
            return int(self._conn.execute("SELECT count(*) FROM records").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        """Return counts by kind, task and run, the embedder, dimension and location."""
        with self._mutex:
            self._sync()

            def counts(column: str) -> dict[str, int]:
                sql = f"SELECT {column}, count(*) FROM records GROUP BY {column} ORDER BY {column}"
                return {str(k): int(n) for k, n in self._conn.execute(sql)}

            return {
                "path": str(self.path),
                "records": len(self),
                "indexed": self._index.size,
                "embedder": self._embedder_id,
                "dim": self._dim,
                "schema": db.SCHEMA_VERSION,
                "by_kind": counts("kind"),
                "by_task": counts("task"),
                "by_run": counts("run"),
            }

    def close(self) -> None:
        """Close the database connection."""
        with self._mutex:
            self._conn.close()

    def __enter__(self) -> MemoryStore:
        """Return the store itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()


def _filters(
    kind: str | None,
    task: str | None,
    exclude_task: str | None,
    run: str | None,
    exclude_run: str | None,
    min_score: float | None,
    model: str | None = None,
) -> tuple[list[str], tuple[Any, ...]]:
    """Turn search filters into SQL conditions and their parameters."""
    pairs = [
        ("kind = ?", kind),
        ("model = ?", model),
        ("task = ?", task),
        ("task != ?", exclude_task),
        ("run = ?", run),
        ("run != ?", exclude_run),
        ("score >= ?", None if min_score is None else float(min_score)),
    ]
    used = [(sql, value) for sql, value in pairs if value is not None]
    return [sql for sql, _ in used], tuple(value for _, value in used)
