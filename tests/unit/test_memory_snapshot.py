"""A run's memory reads are logged, and a snapshot makes a later run read exactly those."""

import hashlib
import json
import re

import numpy as np
import pytest

from flowpo.errors import ConfigError
from flowpo.memory import MemoryRecord, MemoryStore
from flowpo.memory.snapshot import READ_FILE, ReadLog, load_snapshot


class WordEmbedder:
    dim = 32
    model_id = "test:words"

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()) or [""]:
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                out[i] += np.random.default_rng(seed).standard_normal(self.dim)
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


def records(run):
    return [
        MemoryRecord("section", f"answer yes or no {run}", "sst2", run, "m", 0.9),
        MemoryRecord("section", f"classify the review {run}", "sst2", run, "m", 0.8),
        MemoryRecord("section", f"translate the text {run}", "wmt", run, "m", 0.7),
    ]


def test_searches_are_logged_with_run_and_task(tmp_path):
    log = ReadLog(tmp_path / "run" / READ_FILE, tmp_path / "mem", None)
    store = MemoryStore(tmp_path / "mem", WordEmbedder(), read_log=log)
    store.add(records("r1"))
    hits = store.search("answer yes or no", 2)
    body = json.loads((tmp_path / "run" / READ_FILE).read_text())
    assert [r["id"] for r in body["records"]] == sorted(h.id for h, _ in hits)
    assert {(r["run"], r["task"]) for r in body["records"]} <= {("r1", "sst2"), ("r1", "wmt")}
    again = ReadLog(tmp_path / "run" / READ_FILE, tmp_path / "mem", None)  # a resumed run
    assert sorted(again.records) == sorted(h.id for h, _ in hits)


def test_a_snapshot_repeats_the_searches_after_the_memory_grew(tmp_path):
    first_log = ReadLog(tmp_path / "a" / READ_FILE, tmp_path / "mem", None)
    store = MemoryStore(tmp_path / "mem", WordEmbedder(), read_log=first_log)
    store.add(records("r1"))
    queries = ["answer yes or no", "review", "translate"]
    first = [[(r.id, s) for r, s in store.search(q, 1)] for q in queries]
    later = MemoryStore(tmp_path / "mem", WordEmbedder())
    later.add(records("r2"))  # a later run wrote better matches
    assert [[(r.id, s) for r, s in later.search(q, 1)] for q in queries] != first
    ids = load_snapshot(tmp_path / "a")  # the run directory works as well as the file
    replay = MemoryStore(tmp_path / "mem", WordEmbedder(), only=ids)
    assert [[(r.id, s) for r, s in replay.search(q, 1)] for q in queries] == first


def test_an_empty_snapshot_reads_nothing(tmp_path):
    (tmp_path / "snap.json").write_text("[]")
    only = load_snapshot(tmp_path / "snap.json")
    store = MemoryStore(tmp_path / "mem", WordEmbedder(), only=only)
    store.add(records("r1"))
    assert store.search("answer yes or no", 3) == []


def test_a_bad_snapshot_names_the_flag(tmp_path):
    (tmp_path / "bad.json").write_text('{"records": 3}')
    with pytest.raises(ConfigError) as e:
        load_snapshot(tmp_path / "bad.json")
    assert e.value.field == "memory_snapshot"
    with pytest.raises(ConfigError):
        load_snapshot(tmp_path / "missing.json")


def test_a_missing_snapshot_is_refused_before_the_run(tmp_path):
    from flowpo.config import OptimizeConfig, make_config

    with pytest.raises(ConfigError) as e:
        make_config(OptimizeConfig, memory_snapshot=tmp_path / "missing.json")
    assert e.value.field == "memory_snapshot" and "--memory-snapshot" in str(e.value)


def test_an_exact_lookup_sees_only_the_snapshot_and_logs_what_is_noted(tmp_path):
    store = MemoryStore(tmp_path / "mem", WordEmbedder())
    first = store.add(records("r1"))
    store.add(records("r2"))
    assert [r.run for r in store.find(kind="section", task="sst2", model="m")] == ["r1"] * 2 + [
        "r2"] * 2
    assert [r.run for r in store.find(kind="section", task="sst2", model="m",
                                      exclude_run="r1")] == ["r2", "r2"]
    assert store.find(kind="section", task="sst2", model="other") == []
    log = ReadLog(tmp_path / "run" / READ_FILE, tmp_path / "mem", None)
    replay = MemoryStore(tmp_path / "mem", WordEmbedder(), only=first, read_log=log)
    seen = replay.find(kind="section", task="sst2", model="m")
    assert [r.id for r in seen] == first[:2]  # r2's records are not in the snapshot
    assert not (tmp_path / "run" / READ_FILE).exists() or not log.records  # a find logs nothing
    replay.note_read(seen[:1])
    body = json.loads((tmp_path / "run" / READ_FILE).read_text())
    assert [r["id"] for r in body["records"]] == [first[0]]
