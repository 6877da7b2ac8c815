"""The SQLite side of the memory: the schema, opening safely, transactions, row conversion.

SQLite (WAL mode) is the source of truth: every record with its embedding as float32
bytes, and a ``meta`` table with the embedder, the dimension, the schema version and a
write generation that every write bumps (so other processes know to refresh).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowpo.errors import ConfigError, DataError
from flowpo.memory.records import MemoryRecord

DB_FILE = "memory.sqlite"
"""The records and the meta table."""
SCHEMA_VERSION = 1
"""Layout version written to ``meta``; a newer one is refused rather than misread."""
BUSY_TIMEOUT_S = 60.0
"""How long SQLite waits for another process's transaction before giving up."""
_HEADER = b"SQLite format 3\x00"
_COLUMNS = "id, kind, task, run, model, created, text, score, data"

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    task TEXT NOT NULL,
    run TEXT NOT NULL,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    text TEXT NOT NULL,
    score REAL,
    data TEXT NOT NULL DEFAULT '{}',
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind_task ON records(kind, task);
CREATE INDEX IF NOT EXISTS records_run ON records(run);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _unreadable(path: Path, why: str) -> DataError:
    return DataError(
        f"cannot read the memory database: {why}",
        where=str(path),
        fix=(
            "restore it from a backup or an export (`flowpo memory import FILE` into a new "
            "--memory-dir); flowpo leaves the file as it is"
        ),
    )


def open_db(path: Path) -> sqlite3.Connection:
    """Open ``path`` for reading, refusing (without writing) a file that is not SQLite.

    Raises:
        DataError: The file is unreadable, not an SQLite database, or damaged.
    """
    if path.exists():
        try:
            with path.open("rb") as f:
                head = f.read(len(_HEADER))
        except OSError as e:
            raise _unreadable(path, e.strerror or type(e).__name__) from e
        if head and head != _HEADER:
            raise _unreadable(path, "not an SQLite database")
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as e:
        raise _unreadable(path, str(e)) from e
    try:
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        conn.close()
        raise _unreadable(path, str(e)) from e
    return conn


def use_wal(conn: sqlite3.Connection) -> None:
    """Switch a flowpo memory to WAL mode and full syncs (readers never block the writer)."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")


def table_names(conn: sqlite3.Connection) -> set[str]:
    """Return the names of the tables in the database."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    return {str(r[0]) for r in rows}


def init_schema(conn: sqlite3.Connection, embedder_id: str, dim: int) -> None:
    """Create the tables of an empty database and its meta (call under the write lock)."""
    conn.executescript(SCHEMA)
    with write_tx(conn):
        for key, value in (
            ("schema", SCHEMA_VERSION),
            ("embedder", embedder_id),
            ("dim", dim),
            ("generation", 0),
        ):
            conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, str(value)))


def read_meta(conn: sqlite3.Connection, path: Path) -> tuple[str, int, int]:
    """Return ``(embedder id, dim, generation)``, checking the schema version.

    Raises:
        DataError: The meta table is incomplete (not a flowpo memory).
        ConfigError: A newer flowpo wrote this memory.
    """
    meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    missing = [k for k in ("schema", "embedder", "dim", "generation") if k not in meta]
    if missing:
        raise DataError(
            "not a flowpo memory (its meta table lacks some keys)",
            where=str(path),
            field=missing[0],
        )
    if int(meta["schema"]) > SCHEMA_VERSION:
        raise ConfigError(
            f"this memory has layout version {meta['schema']}, newer than this flowpo "
            f"understands ({SCHEMA_VERSION})",
            where=str(path),
            fix="upgrade flowpo, or use another --memory-dir",
        )
    return meta["embedder"], int(meta["dim"]), int(meta["generation"])


def generation(conn: sqlite3.Connection) -> int:
    """Return the current write generation."""
    row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0


def bump_generation(conn: sqlite3.Connection) -> None:
    """Mark a write (inside its transaction) so other processes refresh their index."""
    conn.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key='generation'"
    )


@contextmanager
def write_tx(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one IMMEDIATE transaction: all of it is committed, or none."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def read_tx(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block's reads on one consistent snapshot."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def insert(conn: sqlite3.Connection, record: MemoryRecord, vector: bytes) -> int:
    """Insert one record with its embedding bytes; return its new id."""
    cur = conn.execute(
        "INSERT INTO records (kind, task, run, model, created, text, score, data, embedding) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.kind,
            record.task,
            record.run,
            record.model,
            record.created,
            record.text,
            record.score,
            json.dumps(record.data, sort_keys=True),
            vector,
        ),
    )
    return int(cur.lastrowid or 0)


def exists(conn: sqlite3.Connection, record: MemoryRecord) -> bool:
    """Return True if an identical record (all fields but the id) is stored."""
    row = conn.execute(
        "SELECT data, score, model FROM records WHERE run=? AND created=? AND kind=? "
        "AND task=? AND text=?",
        (record.run, record.created, record.kind, record.task, record.text),
    ).fetchall()
    data = json.dumps(record.data, sort_keys=True)
    return any(r[0] == data and r[1] == record.score and r[2] == record.model for r in row)


def select(conn: sqlite3.Connection, where: str = "", params: tuple[Any, ...] = ()) -> list[Any]:
    """Return record rows (no embeddings) matching an SQL ``where`` clause, by id."""
    clause = f" WHERE {where}" if where else ""
    return conn.execute(f"SELECT {_COLUMNS} FROM records{clause} ORDER BY id", params).fetchall()


def row_to_record(row: Any) -> MemoryRecord:
    """Build a record from a row of :func:`select`."""
    rid, kind, task, run, model, created, text, score, data = row
    return MemoryRecord(
        kind=kind,
        text=text,
        task=task,
        run=run,
        model=model,
        score=None if score is None else float(score),
        data=json.loads(data) if data else {},
        id=int(rid),
        created=float(created),
    )
