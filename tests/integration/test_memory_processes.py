"""The memory across real processes: concurrent writers, a writer killed mid-write, MiniLM."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from flowpo.memory import MemoryRecord, MemoryStore, MemoryWarning, load_embedder

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from memory_helper import HashEmbedder, text_of  # noqa: E402


def child(code: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    return subprocess.Popen(
        [sys.executable, "-c", f"import memory_helper as h; {code}"],
        cwd=HERE,
        env=env,
        text=True,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def check_consistent(store: MemoryStore, path: Path) -> list[int]:
    """Every SQLite record is indexed once and found first by its own text."""
    with sqlite3.connect(path / "memory.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r[0] for r in conn.execute("SELECT id FROM records ORDER BY id")]
    assert store.stats()["indexed"] == len(ids) == len(store)
    for record in store.records():
        hit, sim = store.search(record.text, 1)[0]
        assert hit.id == record.id and sim == pytest.approx(1.0, abs=1e-5)
    return ids


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    mem, go = tmp_path / "mem", tmp_path / "go"
    ready = [tmp_path / f"ready-{tag}" for tag in "ab"]
    procs = [
        child(f"h.write({str(mem)!r}, {tag!r}, 200, 5, {str(go)!r}, {str(r)!r})")
        for tag, r in zip("ab", ready, strict=True)
    ]
    deadline = time.time() + 120  # both writers imported and waiting: then they race
    while not all(r.exists() for r in ready) and time.time() < deadline:
        time.sleep(0.01)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with MemoryStore(mem, HashEmbedder()) as store:  # no rebuild warning: index is current
        assert len(store) == 400
        assert store.stats()["by_run"] == {"run-a": 200, "run-b": 200}
        check_consistent(store, mem)
        texts = {r.text for r in store.records()}
        assert texts == {text_of(t, i) for t in "ab" for i in range(200)}
        runs = [r.run for r in store.records()]  # in id order: the writers took turns
        assert sum(a != b for a, b in zip(runs, runs[1:], strict=False)) >= 2


def test_writer_killed_mid_write_leaves_a_store_that_opens(tmp_path):
    mem, size = tmp_path / "mem", 20
    rng = random.Random(7)
    for round_ in range(3):
        proc = child(f"h.write_forever({str(mem)!r}, 'k{round_}', {size})", stdout=subprocess.PIPE)
        assert proc.stdout is not None
        written = 0
        while written < 100:
            line = proc.stdout.readline()
            assert line, proc.communicate()[1]
            written = int(line)
        time.sleep(rng.uniform(0.0, 0.05))  # land anywhere: in a transaction, an index write...
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            store = MemoryStore(mem, HashEmbedder())
        assert all(issubclass(w.category, MemoryWarning) for w in caught), caught
        with store:
            per_run = store.stats()["by_run"]
            assert per_run[f"run-k{round_}"] >= written
            assert all(n % size == 0 for n in per_run.values())  # whole batches or nothing
            check_consistent(store, mem)
    with MemoryStore(mem, HashEmbedder()) as store:  # repaired: opens without warning
        store.add([MemoryRecord("task", "after the crashes", "t", "r", "m")])
        check_consistent(store, mem)


def test_minilm_embedder_offline():
    embedder = load_embedder("local:all-minilm-l6-v2")
    vecs = embedder.embed(["a great movie", "an excellent film", "tax law"])
    assert embedder.dim == 384 and vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3


def test_minilm_store_search(tmp_path):
    with MemoryStore(tmp_path / "mem", load_embedder()) as store:
        store.add(
            [MemoryRecord("section", t, "sst2", "r", "m") for t in ["an excellent film", "tax law"]]
        )
        hits = store.search("a great movie", 2)
        assert [r.text for r, _ in hits] == ["an excellent film", "tax law"]
        assert store.embedder_id == "local:all-minilm-l6-v2" and store.dim == 384
