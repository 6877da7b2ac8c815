"""The machinery under :class:`~flowpo.memory.store.MemoryStore`: opening, locking, index upkeep.

SQLite is the source of truth; the FAISS index is a cache this module loads, checks
against the records, refreshes when another process wrote, and rebuilds when in doubt.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from flowpo.errors import ConfigError, DataError
from flowpo.memory import db
from flowpo.memory.embeddings import Embedder, normalize_rows
from flowpo.memory.index import INDEX_FILE, VectorIndex, load_index, save_index
from flowpo.memory.lock import LockTimeout, ProcessLock

LOCK_FILE = "lock"
"""The inter-process write lock inside the memory directory."""
LOCK_TIMEOUT_S = 300.0
"""How long a write waits for another process's write."""


class MemoryWarning(UserWarning):
    """The memory repaired itself (e.g. rebuilt a damaged or stale search index)."""


def default_memory_dir() -> Path:
    """Return ``$FLOWPO_MEMORY``, or ``~/.cache/flowpo/memory`` (shared by all runs)."""
    env = os.environ.get("FLOWPO_MEMORY", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "flowpo" / "memory"


class StoreCore:
    """Hold the connection, the lock and the in-process index of one memory directory."""

    path: Path
    embedder: Embedder | None

    def _connect(
        self, path: Path | str | None, embedder: Embedder | None, create: bool, reembed: bool
    ) -> None:
        """Open (or create) the memory and make its index match its records."""
        self.path = Path(path).expanduser() if path is not None else default_memory_dir()
        self.embedder = embedder
        self._db_path = self.path / db.DB_FILE
        if not self._db_path.exists() and not (create and embedder is not None):
            raise DataError(
                "no experience memory here",
                where=str(self.path),
                fix="check --memory-dir / $FLOWPO_MEMORY (a run that saves to memory creates it)",
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(
                f"cannot create the memory directory: {e.strerror or e}", where=str(self.path)
            ) from e
        self._mutex = threading.RLock()
        self._lock = ProcessLock(self.path / LOCK_FILE, LOCK_TIMEOUT_S)
        self._conn = db.open_db(self._db_path)
        try:
            with self._locked():
                self._open(reembed)
        except BaseException:
            self._conn.close()
            raise

    # -- opening -----------------------------------------------------------------------

    def _open(self, reembed: bool) -> None:
        """Create or check the schema, check the embedder, load or rebuild the index."""
        tables = db.table_names(self._conn)
        if tables and not {"records", "meta"} <= tables:
            raise DataError("not a flowpo memory database", where=str(self._db_path))
        if not tables and self.embedder is None:
            raise DataError("the memory is empty", where=str(self._db_path))
        db.use_wal(self._conn)
        if not tables and self.embedder is not None:
            db.init_schema(self._conn, self.embedder.model_id, self.embedder.dim)
        self._embedder_id, self._dim, _ = db.read_meta(self._conn, self._db_path)
        changed = self._check_embedder(reembed)
        self._index = VectorIndex(self._dim)
        self._generation = -1
        _, _, gen = db.read_meta(self._conn, self._db_path)
        expected = {"generation": gen, "embedder": self._embedder_id, "dim": self._dim}
        index, why = load_index(self.path, expected)
        if index is not None and sorted(index.ids().tolist()) != self._db_ids():
            index, why = None, "it does not cover the same records as memory.sqlite"
        if index is not None:
            self._index, self._generation = index, gen
            return
        self._sync()
        self._save()
        if not changed and (why != "missing" or self._index.size):
            warnings.warn(
                f"{self.path / INDEX_FILE}: {why}; rebuilt the search index from the "
                f"{self._index.size} records in {db.DB_FILE} (nothing was lost)",
                MemoryWarning,
                stacklevel=1,
            )

    def _check_embedder(self, reembed: bool) -> bool:
        """Accept the embedder that built the memory; adopt or re-embed another, or refuse.

        Returns:
            True if the memory now uses another model (an empty one adopts it silently).
        """
        emb = self.embedder
        if emb is None or (emb.model_id == self._embedder_id and emb.dim == self._dim):
            return False
        if not self._db_ids():
            with db.write_tx(self._conn):
                self._conn.execute("UPDATE meta SET value=? WHERE key='embedder'", (emb.model_id,))
                self._conn.execute("UPDATE meta SET value=? WHERE key='dim'", (str(emb.dim),))
                db.bump_generation(self._conn)
            self._embedder_id, self._dim = emb.model_id, emb.dim
            return True
        if reembed:
            self._reembed_rows(emb)
            return True
        given = (
            f"{emb.model_id!r}"
            if emb.model_id != self._embedder_id
            else f"that model giving dimension {emb.dim}"
        )
        raise ConfigError(
            f"this memory was built with the embedding model {self._embedder_id!r} "
            f"(dimension {self._dim}), not {given}",
            where=str(self.path),
            field="embedder",
            fix=(
                f"re-embed it with `flowpo memory reembed --memory-dir {self.path} "
                f"--embedder {emb.model_id}`, or pass --embedder {self._embedder_id}"
            ),
        )

    # -- locking and index upkeep ------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold this process's mutex and the inter-process write lock."""
        with self._mutex:
            try:
                self._lock.acquire()
            except LockTimeout:
                raise DataError(
                    f"another process has held the memory's write lock for {LOCK_TIMEOUT_S:.0f} s",
                    where=str(self.path / LOCK_FILE),
                    fix="wait for the other flowpo process, or stop it if it hangs",
                ) from None
            try:
                yield
            finally:
                self._lock.release()

    def _db_ids(self) -> list[int]:
        return [int(r[0]) for r in self._conn.execute("SELECT id FROM records ORDER BY id")]

    def _sync(self) -> None:
        """Bring the in-process index up to the records in SQLite (no re-embedding)."""
        with self._mutex:
            if db.generation(self._conn) == self._generation:
                return
            with db.read_tx(self._conn):
                embedder_id, dim, gen = db.read_meta(self._conn, self._db_path)
                if (embedder_id, dim) != (self._embedder_id, self._dim):
                    raise ConfigError(
                        f"another process re-embedded this memory with {embedder_id!r}",
                        where=str(self.path),
                        fix="reopen the memory with that embedder",
                    )
                have = set(self._index.ids().tolist())
                want = self._db_ids()
                missing = [i for i in want if i not in have]
                extra = sorted(have - set(want))
                vectors = self._vectors(missing)
            self._index.remove(extra)
            self._index.add(missing, vectors)
            self._generation = gen

    def _vectors(self, ids: list[int]) -> np.ndarray:
        """Read the stored embeddings of ``ids`` (in that order)."""
        out = np.zeros((len(ids), self._dim), dtype=np.float32)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT id, embedding FROM records WHERE id IN ({marks})", chunk
            ).fetchall()
            blobs = {int(i): b for i, b in rows}
            for j, rid in enumerate(chunk):
                vec = np.frombuffer(blobs[rid], dtype="<f4")
                if vec.shape != (self._dim,):
                    raise DataError(
                        f"record {rid} has an embedding of {vec.size} values, not {self._dim}",
                        where=str(self._db_path),
                        fix="run `flowpo memory reembed` to recompute every embedding",
                    )
                out[start + j] = vec
        return out

    def _save(self) -> None:
        """Write the index for the current generation (call under the write lock)."""
        info = {"generation": self._generation, "embedder": self._embedder_id, "dim": self._dim}
        save_index(self.path, self._index, info)

    def _embedder(self) -> Embedder:
        if self.embedder is None:
            raise ConfigError(
                "this memory was opened without an embedder",
                where=str(self.path),
                fix=f"open it with the model that built it ({self._embedder_id})",
            )
        return self.embedder

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return normalize_rows(self._embedder().embed(list(texts)), self._dim)

    def _reembed_rows(self, embedder: Embedder) -> int:
        """Re-embed all texts and swap model and vectors in one transaction (under the lock)."""
        rows = self._conn.execute("SELECT id, text FROM records ORDER BY id").fetchall()
        vectors = normalize_rows(embedder.embed([r[1] for r in rows]), embedder.dim)
        with db.write_tx(self._conn):
            for (rid, _), vector in zip(rows, vectors, strict=True):
                blob = vector.astype("<f4").tobytes()
                self._conn.execute("UPDATE records SET embedding=? WHERE id=?", (blob, rid))
            self._conn.execute("UPDATE meta SET value=? WHERE key='embedder'", (embedder.model_id,))
            self._conn.execute("UPDATE meta SET value=? WHERE key='dim'", (str(embedder.dim),))
            db.bump_generation(self._conn)
        self.embedder, self._embedder_id, self._dim = embedder, embedder.model_id, embedder.dim
        return len(rows)

    @property
    def embedder_id(self) -> str:
        """Return the id (spec) of the embedding model the memory's vectors come from."""
        return self._embedder_id

    @property
    def dim(self) -> int:
        """Return the memory's vector length."""
        return self._dim
