"""The FAISS side of the memory: an inner-product index keyed by record id, kept as a cache.

``index.faiss`` holds the vectors and ``index.json`` says which state of the SQLite
records they cover (write generation, embedder, dimension, count) plus a SHA-256 of
``index.faiss``. Both are replaced atomically; any doubt means a rebuild from SQLite.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

INDEX_FILE = "index.faiss"
"""The serialised FAISS index (``IndexIDMap2`` over ``IndexFlatIP``)."""
INDEX_INFO = "index.json"
"""What the index covers, and the checksum of :data:`INDEX_FILE`."""
FILE_MODE = 0o644
"""Permissions of a new index or export file (an existing file keeps its own)."""
TIE_MARGIN = 8
"""Extra hits fetched so equal similarities at the cut are ordered by id, not by chance."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old or the new file, never a mix."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class VectorIndex:
    """Unit vectors keyed by record id, searched by inner product (cosine similarity).

    Args:
        dim: Vector length.
        index: An existing ``IndexIDMap2`` to wrap (default: a new empty one).
    """

    def __init__(self, dim: int, index: Any = None) -> None:
        """Wrap ``index`` or create an empty one."""
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def size(self) -> int:
        """Return how many vectors the index holds."""
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """Return the record ids in the index, in insertion order."""
        return np.asarray(faiss.vector_to_array(self.index.id_map), dtype=np.int64)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add ``vectors`` (``[N, dim]`` float32) under ``ids``."""
        if len(ids):
            vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
            self.index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        """Drop the vectors of ``ids`` (unknown ids are ignored)."""
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def search(
        self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(id, similarity)`` pairs, most similar first, ties by id.

        Args:
            query: One unit vector of length ``dim``.
            k: How many hits.
            allowed: Only these ids may be returned (``None``: any).
        """
        pool = self.size if allowed is None else min(self.size, len(allowed))
        fetch = min(pool, k + TIE_MARGIN)
        if k <= 0 or fetch <= 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        if allowed is None:
            sims, ids = self.index.search(q, fetch)
        else:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters()
            params.sel = selector
            sims, ids = self.index.search(q, fetch, params=params)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits[:k]

    def to_bytes(self) -> bytes:
        """Serialise with FAISS's own format (no pickle)."""
        return bytes(faiss.serialize_index(self.index).tobytes())

    @classmethod
    def from_bytes(cls, data: bytes, dim: int) -> VectorIndex:
        """Load an index written by :meth:`to_bytes`.

        Raises:
            ValueError: Not a FAISS index of this kind, or of another dimension.
        """
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as e:
            raise ValueError(f"not a FAISS index ({str(e).splitlines()[0][:80]})") from e
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"unexpected index type {type(index).__name__}")
        if int(index.d) != dim:
            raise ValueError(f"index has dimension {index.d}, the memory {dim}")
        return cls(dim, index)


def save_index(directory: Path, index: VectorIndex, info: dict[str, Any]) -> None:
    """Write ``index.faiss`` then ``index.json`` (with the checksum), each atomically."""
    data = index.to_bytes()
    atomic_write(directory / INDEX_FILE, data)
    meta = {**info, "count": index.size, "sha256": hashlib.sha256(data).hexdigest()}
    ids = index.ids()
    meta["max_id"] = int(ids.max()) if len(ids) else 0
    atomic_write(directory / INDEX_INFO, json.dumps(meta, indent=1).encode())


def load_index(directory: Path, expected: dict[str, Any]) -> tuple[VectorIndex | None, str]:
    """Load the saved index if it matches ``expected`` (generation, embedder, dim).

    Returns:
        ``(index, "")``, or ``(None, why it cannot be used)``; an index is never trusted
        when its checksum, dimension or covered state is in doubt.
    """
    info_path, path = directory / INDEX_INFO, directory / INDEX_FILE
    if not path.exists() and not info_path.exists():
        return None, "missing"
    try:
        info = json.loads(info_path.read_text())
        data = path.read_bytes()
    except (OSError, ValueError) as e:
        return None, f"unreadable ({type(e).__name__})"
    if not isinstance(info, dict):
        return None, f"{INDEX_INFO} is not an object"
    for key, want in expected.items():
        if info.get(key) != want:
            return None, _mismatch(key, info.get(key), want)
    if info.get("sha256") != hashlib.sha256(data).hexdigest():
        return None, f"{INDEX_FILE} does not match its checksum (damaged or half-written)"
    try:
        index = VectorIndex.from_bytes(data, int(expected["dim"]))
    except ValueError as e:
        return None, str(e)
    return index, ""


def _mismatch(key: str, have: Any, want: Any) -> str:
    """Say in words why an index made for ``have`` does not fit records needing ``want``."""
    if key == "generation":
        return "it is older than the records (a write was interrupted before the index was saved)"
    if key == "embedder":
        return f"it was built with embedder {have!r}, the records with {want!r}"
    return f"its {key} is {have!r}, the records' {want!r}"
