"""SQLite cache of per-example results, keyed by (prompt, example, model, mode).

A prompt already scored on an example costs no model call again: within a run, on a
resume, or in a later run that points at the same file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowpo.errors import DataError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    prompt_fp TEXT NOT NULL,
    example_key TEXT NOT NULL,
    model TEXT NOT NULL,
    mode TEXT NOT NULL,
    prediction TEXT NOT NULL,
    score REAL NOT NULL,
    logprobs TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (prompt_fp, example_key, model, mode)
);
"""


@dataclass(frozen=True)
class CachedResult:
    """One stored per-example result."""

    prediction: Any
    score: float
    logprobs: tuple[float, ...]


class EvalCache:
    """A crash-safe SQLite store (WAL journal) shared by threads and processes."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        """Open (or create) the cache at ``path``; ``:memory:`` keeps it in this process."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise DataError(
                f"the evaluation cache is not a readable SQLite file ({e})",
                where=self.path,
                fix="delete it or point --cache elsewhere",
            ) from None
        self._lock = threading.Lock()

    def get_many(
        self, prompt_fp: str, keys: list[str], model: str, mode: str
    ) -> dict[str, CachedResult]:
        """Return stored results for the example keys that have one."""
        found: dict[str, CachedResult] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT example_key, prediction, score, logprobs FROM results WHERE "
                    f"prompt_fp=? AND model=? AND mode=? AND example_key IN ({marks})",
                    (prompt_fp, model, mode, *chunk),
                ).fetchall()
                for key, pred, score, logprobs in rows:
                    found[key] = CachedResult(json.loads(pred), score, tuple(json.loads(logprobs)))
        return found

    def put_many(
        self, prompt_fp: str, model: str, mode: str, rows: list[tuple[str, CachedResult]]
    ) -> None:
        """Store results in one transaction (all or nothing)."""
        now = time.time()
        data = [
            (
                prompt_fp,
                key,
                model,
                mode,
                json.dumps(r.prediction, ensure_ascii=False),
                r.score,
                json.dumps(list(r.logprobs)),
                now,
            )
            for key, r in rows
        ]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?)", data)

    def __len__(self) -> int:
        """Return the number of stored results."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()
