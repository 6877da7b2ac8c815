"""The experience memory: persistence, search, filters, export/import, repair, helpers, CLI."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from langchain_core.documents import Document

from flowpo.errors import ConfigError, DataError
from flowpo.memory import (
    MemoryRecord,
    MemoryRetriever,
    MemoryStore,
    MemoryWarning,
    MiniLMEmbedder,
    OpenAIEmbedder,
    default_memory_dir,
    load_embedder,
    near_duplicate,
    retriever_for,
    similar_q_tables,
)
from flowpo.memory import cli as memory_cli
from flowpo.search.policy import QTable


class HashEmbedder:
    """Deterministic bag-of-words embedder for tests: each word is a seeded random vector."""

    def __init__(self, dim: int = 64, model_id: str = "test:hash") -> None:
        self.dim = dim
        self.model_id = model_id
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()) or [""]:
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                out[i] += np.random.default_rng(seed).standard_normal(self.dim)
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out


def rec(kind="section", text="answer yes or no", task="sst2", run="r1", score=None, **data):
    return MemoryRecord(kind, text, task, run, "smollm2", score=score, data=data)


SAMPLE = [
    rec("prompt", "classify the sentiment of the movie review", score=0.81),
    rec("prompt", "is this review positive or negative", score=0.77, run="r2"),
    rec("section", "answer with yes or no only", score=0.9, section="format"),
    rec("section", "think step by step about the sentiment", score=0.6, section="steps"),
    rec("section", "label the topic of the news article", task="agnews", score=0.7),
    rec("reason", "the model ignored the negation in the review", run="r2"),
    rec("summary", "negations and sarcasm confuse the model"),
    rec("operator_outcome", "rag on format gained", score=0.05, operator="rag"),
    rec("task", "binary sentiment of movie reviews"),
    rec("task", "topic classification of news articles", task="agnews", run="r3"),
]
QUERIES = ["sentiment of a review", "yes or no", "news topic", "negation", "model"]


def fresh(tmp_path: Path, name: str = "mem", embedder=None) -> MemoryStore:
    store = MemoryStore(tmp_path / name, embedder or HashEmbedder())
    store.add([MemoryRecord(**{**r.__dict__, "data": dict(r.data)}) for r in SAMPLE])
    return store


def results(store: MemoryStore, **filters):
    return [
        [
            (r.id, r.text, r.score, pytest.approx(s, abs=1e-6))
            for r, s in store.search(q, 4, **filters)
        ]
        for q in QUERIES
    ]


def test_save_reload_and_search_give_identical_results(tmp_path):
    store = fresh(tmp_path)
    before = results(store)
    before_task = results(store, task="sst2")
    store.close()
    with MemoryStore(tmp_path / "mem", HashEmbedder()) as again:
        assert results(again) == before
        assert results(again, task="sst2") == before_task
        assert len(again) == len(SAMPLE)
        assert again.get([3])[0].data == {"section": "format"}
    assert before[1][0][1] == "answer with yes or no only"


def test_add_fills_ids_and_created_and_rejects_bad_records(tmp_path):
    store = MemoryStore(tmp_path / "m", HashEmbedder())
    r = rec(score=0.5)
    assert store.add([r]) == [1] and r.id == 1 and r.created is not None
    with pytest.raises(DataError) as e:
        store.add([rec(), rec(kind="nonsense")])
    assert e.value.field == "kind" and "record 1" in str(e.value)
    with pytest.raises(DataError):
        store.add([rec(score=float("nan"))])
    assert len(store) == 1


def test_filters(tmp_path):
    store = fresh(tmp_path)
    kinds = {r.kind for r, _ in store.search("review", 20, kind="section")}
    assert kinds == {"section"}
    assert {r.task for r, _ in store.search("review", 20, task="agnews")} == {"agnews"}
    assert "agnews" not in {r.task for r, _ in store.search("review", 20, exclude_task="agnews")}
    assert {r.run for r, _ in store.search("review", 20, run="r2")} == {"r2"}
    assert "r1" not in {r.run for r, _ in store.search("review", 20, exclude_run="r1")}
    scored = store.search("review", 20, min_score=0.75)
    assert scored and all(r.score is not None and r.score >= 0.75 for r, _ in scored)
    assert store.search("review", 5, kind="q_table") == []
    hits = store.search("review", 20)
    sims = [s for _, s in hits]
    assert len(hits) == len(SAMPLE) and sims == sorted(sims, reverse=True)
    with pytest.raises(ConfigError):
        store.search("review", kind="prompts")


def test_export_import_round_trip(tmp_path):
    store = fresh(tmp_path)
    out = tmp_path / "export.jsonl"
    assert store.export(out) == len(SAMPLE)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert set(lines[0]) == set("id kind task run model created text score data".split())
    other = MemoryStore(tmp_path / "other", HashEmbedder())
    assert other.import_(out) == len(SAMPLE)
    assert [r.to_dict() for r in other.records()] == [r.to_dict() for r in store.records()]
    assert results(other) == results(store)
    assert other.import_(out) == 0  # already there: importing twice adds nothing
    assert len(other) == len(SAMPLE)


GOOD = {"kind": "prompt", "text": "t", "task": "sst2", "run": "r", "model": "m", "score": 0.5}


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        ("{not json", None),
        (json.dumps({k: v for k, v in GOOD.items() if k != "task"}), "task"),
        (json.dumps({**GOOD, "colour": "red"}), "colour"),
        (json.dumps({**GOOD, "score": "high"}), "score"),
        (json.dumps({**GOOD, "kind": "thought"}), "kind"),
        (json.dumps({**GOOD, "data": [1, 2]}), "data"),
        (json.dumps({**GOOD, "text": 7}), "text"),
        ("[1, 2]", None),
    ],
)
def test_bad_import_line_names_line_and_field_and_stores_nothing(tmp_path, bad_line, field):
    store = fresh(tmp_path)
    snapshot = tmp_path / "before.jsonl"
    store.export(snapshot)
    file = tmp_path / "in.jsonl"
    file.write_text(json.dumps(GOOD) + "\n\n" + bad_line + "\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(DataError) as e:
        store.import_(file)
    assert e.value.where == f"{file}:3"
    assert e.value.field == field
    after = tmp_path / "after.jsonl"
    store.export(after)
    assert after.read_text() == snapshot.read_text()


def test_unreadable_import_file(tmp_path):
    store = fresh(tmp_path)
    with pytest.raises(DataError) as e:
        store.import_(tmp_path / "missing.jsonl")
    assert "missing.jsonl" in str(e.value)
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="UTF-8"):
        store.import_(binary)
    assert len(store) == len(SAMPLE)


def test_forget_run(tmp_path):
    store = fresh(tmp_path)
    n_r2 = sum(r.run == "r2" for r in SAMPLE)
    assert store.forget("r2") == n_r2
    assert store.forget("no-such-run") == 0
    assert "r2" not in store.stats()["by_run"]
    assert all(r.run != "r2" for r, _ in store.search("review negation", 20))
    store.close()
    with MemoryStore(tmp_path / "mem", HashEmbedder()) as again:  # no rebuild warning
        assert len(again) == len(SAMPLE) - n_r2 == again.stats()["indexed"]


def test_stats(tmp_path):
    stats = fresh(tmp_path).stats()
    assert stats["records"] == stats["indexed"] == len(SAMPLE)
    assert stats["by_kind"]["section"] == 3 and stats["by_task"]["agnews"] == 2
    assert stats["embedder"] == "test:hash" and stats["dim"] == 64
    assert stats["path"] == str(tmp_path / "mem")


@pytest.mark.parametrize("damage", ["delete", "garbage", "delete-info", "truncate"])
def test_damaged_index_is_rebuilt_with_a_warning(tmp_path, damage):
    store = fresh(tmp_path)
    before = results(store)
    store.close()
    index = tmp_path / "mem" / "index.faiss"
    if damage == "delete":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(b"this is not a faiss index" * 10)
    elif damage == "delete-info":
        (tmp_path / "mem" / "index.json").unlink()
    else:
        index.write_bytes(index.read_bytes()[:100])
    with pytest.warns(MemoryWarning, match="rebuilt the search index"):
        again = MemoryStore(tmp_path / "mem", HashEmbedder())
    assert results(again) == before
    again.close()
    MemoryStore(tmp_path / "mem", HashEmbedder()).close()  # repaired: no warning now


def test_stale_index_is_rebuilt(tmp_path):
    store = fresh(tmp_path)
    old = {p.name: p.read_bytes() for p in (tmp_path / "mem").glob("index.*")}
    store.add([rec(text="a record the old index never saw", score=0.3)])
    expected = results(store)
    store.close()
    for name, data in old.items():  # as if killed between the commit and the index write
        (tmp_path / "mem" / name).write_bytes(data)
    with pytest.warns(MemoryWarning, match="a write was interrupted"):
        again = MemoryStore(tmp_path / "mem", HashEmbedder())
    assert results(again) == expected and again.stats()["indexed"] == len(SAMPLE) + 1


def test_other_embedder_is_refused_with_reembed_fix(tmp_path):
    fresh(tmp_path).close()
    with pytest.raises(ConfigError) as e:
        MemoryStore(tmp_path / "mem", HashEmbedder(model_id="test:other"))
    assert "test:hash" in str(e.value) and "reembed" in str(e.value)
    assert e.value.field == "embedder"
    with pytest.raises(ConfigError, match="dimension 16"):
        MemoryStore(tmp_path / "mem", HashEmbedder(dim=16))
    with MemoryStore(tmp_path / "mem", HashEmbedder()) as again:
        assert len(again) == len(SAMPLE)


def test_reembed(tmp_path):
    fresh(tmp_path).close()
    new = HashEmbedder(dim=16, model_id="test:hash16")
    with MemoryStore(tmp_path / "mem", new, reembed=True) as store:
        assert store.embedder_id == "test:hash16" and store.dim == 16
        hits = store.search("answer with yes or no only", 1)
        assert hits[0][0].text == "answer with yes or no only"
        assert hits[0][1] == pytest.approx(1.0, abs=1e-6)
    with MemoryStore(tmp_path / "mem", HashEmbedder(dim=16, model_id="test:hash16")) as again:
        assert again.stats()["indexed"] == len(SAMPLE)
        assert again.reembed(HashEmbedder()) == len(SAMPLE)
        assert again.embedder_id == "test:hash"
        assert results(again)[1][0][1] == "answer with yes or no only"
    with pytest.raises(ConfigError):
        MemoryStore(tmp_path / "mem", new)


def test_empty_memory_adopts_a_new_embedder(tmp_path):
    MemoryStore(tmp_path / "m", HashEmbedder()).close()
    with MemoryStore(tmp_path / "m", HashEmbedder(dim=8, model_id="x")) as store:
        assert store.embedder_id == "x" and store.dim == 8


def test_unreadable_sqlite_is_a_data_error_and_left_untouched(tmp_path):
    mem = tmp_path / "mem"
    mem.mkdir()
    garbage = b"definitely not sqlite" * 50
    (mem / "memory.sqlite").write_bytes(garbage)
    with pytest.raises(DataError) as e:
        MemoryStore(mem, HashEmbedder())
    assert "memory.sqlite" in str(e.value)
    assert (mem / "memory.sqlite").read_bytes() == garbage


def test_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path):
    mem = tmp_path / "mem"
    mem.mkdir()
    with sqlite3.connect(mem / "memory.sqlite") as conn:
        conn.execute("CREATE TABLE things (x)")
    data = (mem / "memory.sqlite").read_bytes()
    with pytest.raises(DataError, match="not a flowpo memory"):
        MemoryStore(mem, HashEmbedder())
    assert (mem / "memory.sqlite").read_bytes() == data


def test_missing_memory_and_no_embedder(tmp_path):
    with pytest.raises(DataError, match="no experience memory"):
        MemoryStore(tmp_path / "none", HashEmbedder(), create=False)
    assert not (tmp_path / "none").exists()
    fresh(tmp_path).close()
    with MemoryStore(tmp_path / "mem", None, create=False) as bare:
        assert bare.stats()["records"] == len(SAMPLE)
        with pytest.raises(ConfigError, match="without an embedder"):
            bare.search("x")


def test_two_handles_see_each_others_writes(tmp_path):
    a = fresh(tmp_path)
    b = MemoryStore(tmp_path / "mem", HashEmbedder())
    a.add([rec(text="zebra crossing instructions", score=0.4)])
    assert b.search("zebra crossing instructions", 1)[0][0].text == "zebra crossing instructions"
    b.forget("r2")
    assert all(r.run != "r2" for r, _ in a.search("review", 20))
    assert a.stats()["indexed"] == b.stats()["indexed"] == len(a)


def test_default_memory_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWPO_MEMORY", str(tmp_path / "shared"))
    assert default_memory_dir() == tmp_path / "shared"
    monkeypatch.delenv("FLOWPO_MEMORY")
    assert default_memory_dir() == Path.home() / ".cache" / "flowpo" / "memory"


def test_langchain_retriever(tmp_path):
    store = fresh(tmp_path)
    docs = MemoryRetriever(store=store, k=2, kind="section").invoke("yes or no")
    assert len(docs) == 2 and all(isinstance(d, Document) for d in docs)
    assert docs[0].page_content == "answer with yes or no only"
    meta = docs[0].metadata
    assert (
        meta["kind"] == "section" and meta["score"] == 0.9 and meta["data"]["section"] == "format"
    )
    assert meta["similarity"] >= docs[1].metadata["similarity"]


def test_similar_q_tables(tmp_path):
    store = MemoryStore(tmp_path / "m", HashEmbedder())
    q_sent = QTable.uniform(["task", "format"], ["rag", "mutate"])
    q_sent.set("format", "rag", 0.9)
    q_news = QTable.uniform(["task"], ["rag"])
    store.add(
        [
            rec("q_table", "sentiment of movie reviews", run="a", q_table=q_sent.to_dict()),
            rec("q_table", "topic of news articles", task="agnews", q_table=q_news.to_dict()),
            rec("q_table", "sentiment of movie reviews again", run="b", q_table={"bad": 1}),
        ]
    )
    found = similar_q_tables(store, "sentiment of product reviews", k=2)
    assert len(found) == 2
    table, sim, task = found[0]
    assert task == "sst2" and QTable.from_dict(table).get("format", "rag") == 0.9
    assert sim >= found[1][1] >= 0.0 and found[1][2] == "agnews"
    warm = QTable.uniform(["task", "format"], ["rag", "mutate"]).blend(
        [(QTable.from_dict(t), w) for t, w, _ in found]
    )
    assert warm.get("format", "rag") > warm.get("format", "mutate")
    assert similar_q_tables(store, "sentiment", k=3, exclude_run="a")[0][2] == "agnews"


def test_retriever_for_ranks_by_similarity_times_score(tmp_path):
    store = MemoryStore(tmp_path / "m", HashEmbedder())
    store.add(
        [
            rec(text="answer yes or no", score=0.5),
            rec(text="answer yes or no please", score=0.95),
            rec(text="answer   yes or no please", score=0.5, run="r9"),
            rec(text="summarise the article", score=0.99),
            rec(text="answer yes or no", score=None),
            rec("prompt", "answer yes or no", score=1.0),
        ]
    )
    retrieve = retriever_for(store)
    hits = retrieve("answer yes or no", 2)
    assert [t for t, _ in hits] == ["answer yes or no please", "answer yes or no"]
    assert hits[0][1] > hits[1][1] > 0
    assert all(isinstance(t, str) and isinstance(s, float) for t, s in retrieve("x", 8))
    only_r9 = retriever_for(store, exclude_run="r1")("answer yes or no", 5)
    assert only_r9 == [("answer   yes or no please", pytest.approx(only_r9[0][1]))]


def test_near_duplicate(tmp_path):
    store = MemoryStore(tmp_path / "m", HashEmbedder())
    store.add(
        [
            rec("prompt", "Classify the review. Answer yes or no.", score=0.8),
            rec("prompt", "classify the review answer yes or no", task="other", score=0.1),
            rec("prompt", "a prompt never scored"),
            rec("section", "a prompt never scored", score=0.9),
        ]
    )
    found = near_duplicate(store, "classify the review:  answer YES or no", "sst2")
    assert found is not None and found.score == 0.8
    assert near_duplicate(store, "Summarise the article in one line.", "sst2") is None
    assert near_duplicate(store, "Classify the review. Answer yes or no.", "agnews") is None
    assert near_duplicate(store, "a prompt never scored", "sst2") is None


def test_load_embedder_specs():
    assert isinstance(load_embedder(), MiniLMEmbedder)
    assert load_embedder("local:all-MiniLM-L6-v2").dim == 384
    oa = load_embedder("openai:text-embedding-3-small")
    assert isinstance(oa, OpenAIEmbedder) and oa.model_id == "openai:text-embedding-3-small"
    oc = load_embedder("openai-compatible:http://localhost:8000/v1#bge-m3")
    assert isinstance(oc, OpenAIEmbedder)
    assert (oc.base_url, oc.model) == ("http://localhost:8000/v1", "bge-m3")
    assert load_embedder(oc.model_id).model_id == oc.model_id
    for bad in ["word2vec", "openai:", "openai-compatible:http://x"]:
        with pytest.raises(ConfigError, match="embedder"):
            load_embedder(bad)


def test_openai_embedder_with_a_fake_endpoint():
    class Item:
        def __init__(self, index, embedding):
            self.index, self.embedding = index, embedding

    class Embeddings:
        def create(self, model, input):
            assert model == "m"
            return type("R", (), {"data": [Item(i, [3.0, 4.0]) for i in range(len(input))][::-1]})

    emb = OpenAIEmbedder("m", base_url="http://localhost:1/v1")
    emb._client = type("C", (), {"embeddings": Embeddings()})()
    vecs = emb.embed(["a", "b", "c"])
    assert vecs.shape == (3, 2) and emb.dim == 2
    assert np.allclose(vecs, [[0.6, 0.8]] * 3)


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    fresh(tmp_path).close()
    monkeypatch.setattr(
        memory_cli, "load_embedder", lambda spec: HashEmbedder(model_id=spec or "test:hash")
    )
    return CliRunner(), ["--memory-dir", str(tmp_path / "mem")]


def test_cli_stats_search_forget(cli_env):
    runner, where = cli_env
    out = runner.invoke(memory_cli.memory, ["stats", *where])
    assert out.exit_code == 0 and "records  10" in out.output and "test:hash" in out.output
    out = runner.invoke(memory_cli.memory, ["stats", "--json", *where])
    assert json.loads(out.output)["by_kind"]["section"] == 3
    out = runner.invoke(
        memory_cli.memory, ["search", "yes or no", "--kind", "section", "-k", "1", *where]
    )
    assert out.exit_code == 0 and "answer with yes or no only" in out.output
    out = runner.invoke(memory_cli.memory, ["search", "x", "--task", "agnews", "--json", *where])
    assert {json.loads(line)["task"] for line in out.output.splitlines()} == {"agnews"}
    out = runner.invoke(memory_cli.memory, ["forget", "--run", "r2", *where])
    assert out.exit_code == 0 and "forgot 2 records" in out.output


def test_cli_export_import_reembed(cli_env, tmp_path):
    runner, where = cli_env
    file = tmp_path / "out.jsonl"
    out = runner.invoke(memory_cli.memory, ["export", str(file), *where])
    assert out.exit_code == 0 and len(file.read_text().splitlines()) == 10
    new = ["--memory-dir", str(tmp_path / "new")]
    out = runner.invoke(memory_cli.memory, ["import", str(file), *new, "--embedder", "test:hash"])
    assert out.exit_code == 0 and "imported 10 records" in out.output
    out = runner.invoke(memory_cli.memory, ["search", "x", *where, "--embedder", "test:b"])
    assert isinstance(out.exception, ConfigError) and "reembed" in str(out.exception)
    out = runner.invoke(memory_cli.memory, ["reembed", *where, "--embedder", "test:b"])
    assert out.exit_code == 0 and "re-embedded 10 records: test:hash -> test:b" in out.output
    out = runner.invoke(memory_cli.memory, ["stats", "--memory-dir", str(tmp_path / "nothing")])
    assert isinstance(out.exception, DataError)


def test_process_lock_times_out_and_leaks_nothing(tmp_path):
    from flowpo.memory.lock import LockTimeout, ProcessLock

    holder = ProcessLock(tmp_path / "lock", 1.0)
    holder.acquire()
    waiter = ProcessLock(tmp_path / "lock", 0.1)
    with pytest.raises(LockTimeout):
        waiter.acquire()
    holder.release()
    time.sleep(0.05)  # the abandoned wait gets the lock and must let go at once
    again = ProcessLock(tmp_path / "lock", 1.0)
    again.acquire()
    again.release()


def test_write_waits_for_the_lock_then_says_so(tmp_path, monkeypatch):
    from flowpo.memory import core
    from flowpo.memory.lock import ProcessLock

    store = fresh(tmp_path)
    monkeypatch.setattr(core, "LOCK_TIMEOUT_S", 0.1)
    store._lock = ProcessLock(tmp_path / "mem" / "lock", 0.1)
    other = ProcessLock(tmp_path / "mem" / "lock", 1.0)
    other.acquire()
    with pytest.raises(DataError, match="write lock"):
        store.add([rec(text="blocked")])
    other.release()
    assert store.add([rec(text="now it goes through")]) == [len(SAMPLE) + 1]


def test_near_duplicate_prompt_reuses_a_remembered_score_only_when_input_is_the_same(tmp_path):
    from flowpo.memory.experience import KEPT, remember, remembered_score, split_key
    from flowpo.prompt import Prompt, Section
    from flowpo.types import Example

    train = [Example("0", "a fine film", "positive"), Example("1", "dull", "negative")]
    template, words = "{prompt} Input : {text} Output:", {"negative": "no", "positive": "yes"}
    scored = Prompt([Section("task", "Is the review positive?"), Section("format", "Say yes.")])
    cand = {
        "id": "e1-0",
        "prompt": scored.to_dict(),
        "train_score": 0.75,
        "train_soft": 0.61,
        "per_label": {"positive": 1.0, "negative": 0.5},
        "near_key": scored.near_key(template, words),
        "train_key": split_key(train),
    }
    store = MemoryStore(tmp_path / "mem", HashEmbedder())
    remember(store, {"archive": [cand]}, task="sst2", description="d", run="r1", model="m")
    assert set(KEPT) <= set(store.search("positive", 1, kind="prompt")[0][0].data)

    # Same words in the same order, sections renamed and reflowed: a near-duplicate.
    same = Prompt([Section("intro", "Is the  review\npositive?\n\nSay yes.")])
    keys = {"near_key": same.near_key(template, words), "train_key": split_key(train)}
    assert same.fingerprint(template, words) != scored.fingerprint(template, words)
    hit = remembered_score(store, same.text, "sst2", "m", keys)
    assert hit == {
        "train_score": 0.75,
        "train_soft": 0.61,
        "per_label": {"positive": 1.0, "negative": 0.5},
        "memory_run": "r1",
    }
    # One word, the label words, the model or the train split differ: scored again.
    other = Prompt([Section("intro", "Is the review negative? Say yes.")])
    okeys = {**keys, "near_key": other.near_key(template, words)}
    assert remembered_score(store, other.text, "sst2", "m", okeys) is None
    flipped = {**keys, "near_key": same.near_key(template, {**words, "negative": "bad"})}
    assert remembered_score(store, same.text, "sst2", "m", flipped) is None
    assert remembered_score(store, same.text, "sst2", "other-model", keys) is None
    moved = {**keys, "train_key": split_key(train[:1])}
    assert remembered_score(store, same.text, "sst2", "m", moved) is None
    assert remembered_score(store, same.text, "mr", "m", keys) is None
    assert remembered_score(None, same.text, "sst2", "m", keys) is None


def test_a_later_run_starts_from_the_prompt_a_past_run_of_the_task_chose(tmp_path):
    from flowpo.memory.experience import remember, remembered_start, split_key
    from flowpo.prompt import Prompt, Section
    from flowpo.types import Example

    train_key = split_key([Example("0", "a fine film", "positive")])

    def cand(cid, text, train, dev=None):
        out = {"id": cid, "prompt": Prompt([Section("task", text)]).to_dict(),
               "train_score": train, "train_key": train_key}
        return out if dev is None else {**out, "val_score": dev}

    store = MemoryStore(tmp_path / "mem", HashEmbedder())
    assert remembered_start(store, "sst2", "m", train_key) is None
    # r1 chose b (train 0.8, dev 0.7); a scored higher on train but was not chosen.
    archive = [cand("a", "Say yes.", 0.9), cand("b", "Is the review positive?", 0.8)]
    remember(store, {"archive": archive}, task="sst2", description="d", run="r1", model="m",
             chosen=cand("b", "Is the review positive?", 0.8, 0.7))
    prompt, run = remembered_start(store, "sst2", "m", train_key)
    assert run == "r1"
    assert Prompt.from_dict(prompt).section("task").text == "Is the review positive?"
    # r2 chose a prompt better on train and dev pooled (0.75 + 0.8 > 0.8 + 0.7): it wins.
    remember(store, {"archive": []}, task="sst2", description="d", run="r2", model="m",
             chosen=cand("c", "Answer positive or negative.", 0.75, 0.8))
    assert remembered_start(store, "sst2", "m", train_key)[1] == "r2"
    assert remembered_start(store, "sst2", "m", train_key, exclude_run="r2")[1] == "r1"
    # Another target model, task or train split: nothing to start from.
    assert remembered_start(store, "sst2", "other-model", train_key) is None
    assert remembered_start(store, "cr", "m", train_key) is None
    assert remembered_start(store, "sst2", "m", "another-split") is None
