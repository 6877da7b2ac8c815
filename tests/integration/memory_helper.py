"""Helpers the memory process tests run in child processes (importable by path)."""

from __future__ import annotations

import hashlib
import re
import sys
import time
from pathlib import Path

import numpy as np

from flowpo.memory import MemoryRecord, MemoryStore


class HashEmbedder:
    """Deterministic bag-of-words embedder: each word is a seeded random vector."""

    def __init__(self, dim: int = 64, model_id: str = "test:hash") -> None:
        self.dim = dim
        self.model_id = model_id

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()) or [""]:
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                out[i] += np.random.default_rng(seed).standard_normal(self.dim)
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


def text_of(tag: str, i: int) -> str:
    """Return a text no other record shares (its unique word makes the search exact)."""
    return f"record {i} of writer {tag} unique{tag}x{i} answer with care"


def batch(tag: str, start: int, size: int) -> list[MemoryRecord]:
    return [
        MemoryRecord("section", text_of(tag, i), "task", f"run-{tag}", "m", score=i / 1000)
        for i in range(start, start + size)
    ]


def write(path: str, tag: str, total: int, size: int, go: str, ready: str = "") -> None:
    """Say ``ready`` (a file), wait for the ``go`` file, then add ``total`` records."""
    if ready:
        Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.005)
    store = MemoryStore(Path(path), HashEmbedder())
    for start in range(0, total, size):
        store.add(batch(tag, start, size))
    store.close()


def write_forever(path: str, tag: str, size: int) -> None:
    """Add batches until killed; print a line after each so the parent can follow."""
    store = MemoryStore(Path(path), HashEmbedder())
    start = 0
    while True:
        store.add(batch(tag, start, size))
        start += size
        sys.stdout.write(f"{start}\n")
        sys.stdout.flush()
