"""trace.json: one run per graph node execution, model calls nested under their node."""

import asyncio
import doctest
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import flowpo.graphs.resources as resources_mod
from flowpo.cli import main
from flowpo.config import OptimizeConfig
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.base import TargetLM
from flowpo.models.chat import LocalChatModel
from flowpo.models.local import LocalLM
from flowpo.operators.registry import get_operator
from flowpo.run.rundir import EVAL_CACHE, HISTORY, REPORT, TRACE
from flowpo.run.runner import aoptimize, aresume
from flowpo.run.tracing import RunCollector, read_trace, summarize
from flowpo.tasks import resolve_task
from tests.unit.fakes import Recorder


class HashTarget(TargetLM):
    """A deterministic target model: log-probs from a hash of the prompt and the text."""

    model_id = "hash-target"
    crash_after = None  # scoring calls left before one raises (simulates a dying run)

    def check_words(self, words):
        return None

    async def score_labels(self, prefix, texts, words):
        if HashTarget.crash_after is not None:
            HashTarget.crash_after -= 1
            if HashTarget.crash_after < 0:
                raise RuntimeError("target died")
        self.stats.calls += 1
        self.stats.examples += len(texts)
        rows = []
        for t in texts:
            h = hashlib.sha1((prefix + t).encode()).digest()
            rows.append([-(h[i] / 64) for i in range(len(words))])
        return rows

    async def generate(self, prefix, texts, *, max_new_tokens=32):
        raise AssertionError("verbalizer mode only")


def _answer(messages):
    return "Decide whether the movie review sounds positive or negative overall."


@pytest.fixture
def fake_resources(monkeypatch, tmp_path):
    task = resolve_task("sst2")

    def build(config_json):
        config = OptimizeConfig(**json.loads(config_json))
        cache = EvalCache(config.run_dir / EVAL_CACHE)
        target = HashTarget()
        names = ["refine", "few_shot"]
        return resources_mod.Resources(
            task,
            target,
            Evaluator(task, target, cache=cache),
            Recorder(script=_answer),
            {n: get_operator(n) for n in names},
            config.run_dir,
        )

    resources_mod._build.cache_clear()
    monkeypatch.setattr(resources_mod, "_build", build)
    return tmp_path


def _config(run_dir, epochs, **kw):
    return OptimizeConfig(
        **kw,
        task="sst2",
        run_dir=run_dir,
        max_epochs=epochs,
        actions_per_epoch=2,
        reflect_cases=2,
        evaluate_test=False,
        use_memory=False,
        operators="refine,few_shot",
        edit_format=False,
        patience=10,
    )


def _node_runs(runs, graph_id):
    return [r for r in runs if r["parent_run_id"] == graph_id]


def test_trace_has_one_run_per_node_execution_and_model_calls_under_them(fake_resources):
    run_dir = fake_resources / "run"
    asyncio.run(aoptimize(_config(run_dir, 2)))
    runs = read_trace(run_dir)
    graphs = [r for r in runs if r["parent_run_id"] is None]
    assert [g["name"] for g in graphs] == ["flowpo"]
    root = graphs[0]
    for key, value in (("task", "sst2"), ("method", "promptflow"), ("seed", 0)):
        assert root["inputs"][key] == value and root["extra"]["metadata"][key] == value
    assert root["inputs"]["model"] == "local:smollm2-135m"
    assert root["inputs"]["budget"]["max_epochs"] == 2
    nodes = _node_runs(runs, graphs[0]["id"])
    # init, evaluate (epoch 0), review, then reflect, select, edit, evaluate (1), review
    # ..., finalize (review passes through without approval; promptflow never samples)
    epoch = ["reflect", "select", "edit", "evaluate", "review"]
    expected = ["init", "evaluate", "review", *epoch * 2, "finalize"]
    assert [n["name"] for n in sorted(nodes, key=lambda r: r["dotted_order"])] == expected
    by_id = {r["id"]: r for r in runs}

    def node_of(run):
        while run["parent_run_id"] and by_id[run["parent_run_id"]]["parent_run_id"]:
            run = by_id[run["parent_run_id"]]
        return run["name"]

    models = [r for r in runs if r["run_type"] in ("llm", "chat_model")]
    where = {(r["name"], node_of(r)) for r in models}
    assert ("target_lm", "evaluate") in where and ("target_lm", "finalize") in where
    assert ("Recorder", "reflect") in where  # the reflector's operator-LM calls
    chats_in_edit = [r for r in models if r["name"] == "Recorder" and node_of(r) == "edit"]
    assert chats_in_edit, "operator LLM calls must nest under the edit node"
    # they sit under an operator span named operator@section
    assert all("@" in by_id[r["parent_run_id"]]["name"] for r in chats_in_edit)
    assert all(r["trace_id"] == graphs[0]["id"] for r in runs)
    # inputs/outputs are condensed: scores and actions, no full beam prompts or datasets
    evaluate = next(n for n in nodes if n["name"] == "evaluate" and n["outputs"].get("beam"))
    assert set(evaluate["outputs"]["beam"][0]) <= {
        "id",
        "parent_id",
        "action",
        "train_score",
        "val_score",
        "epoch",
    }
    assert "q" not in evaluate["outputs"]["history"][0]
    target = next(r for r in models if r["name"] == "target_lm")
    assert target["outputs"]["scored"] == target["inputs"]["examples"] > 0
    edits = [r for r in runs if "@" in r["name"] and r["outputs"].get("made")]
    assert any(d.startswith(("-", "+")) for r in edits for d in r["outputs"]["diffs"])
    assert len(json.dumps(runs)) < 400_000
    rows = [json.loads(line) for line in (run_dir / HISTORY).read_text().splitlines()]
    assert all(isinstance(r["best_dev"], float) and r["q"]["values"] for r in rows[:-1])
    # the runner rewrites report.html once the trace exists; history now carries Q snapshots
    html = (run_dir / REPORT).read_text()
    assert f"{len(runs)} runs in trace.json" in html and "Q at epoch 2" in html
    assert "Incomplete run directory" not in html


def test_resume_appends_to_the_trace(fake_resources):
    run_dir = fake_resources / "run"
    asyncio.run(aoptimize(_config(run_dir, 1)))
    first = read_trace(run_dir)
    # a finished run resumes to its stored result: no new graph run, trace unchanged
    asyncio.run(aresume(run_dir))
    assert read_trace(run_dir) == first
    # a new run in the same directory appends its own graph run after the first
    (run_dir / "checkpoints.sqlite").unlink()
    (run_dir / HISTORY).unlink()
    asyncio.run(aoptimize(_config(run_dir, 1)))
    runs = read_trace(run_dir)
    assert len([r for r in runs if r["parent_run_id"] is None]) == 2
    assert runs[: len(first)] == first


def test_a_crashed_run_keeps_its_trace_and_resume_appends(fake_resources, monkeypatch):
    run_dir = fake_resources / "run"
    monkeypatch.setattr(HashTarget, "crash_after", 2)  # epoch 0 train + dev, then epoch 1 dies
    with pytest.raises(RuntimeError, match="target died"):
        asyncio.run(aoptimize(_config(run_dir, 2)))
    crashed = read_trace(run_dir)
    assert [r["name"] for r in crashed if r["parent_run_id"] is None] == ["flowpo"]
    assert "target died" in crashed[0]["error"]
    monkeypatch.setattr(HashTarget, "crash_after", None)
    asyncio.run(aresume(run_dir))
    runs = read_trace(run_dir)
    assert runs[: len(crashed)] == crashed
    roots = [r for r in runs if r["parent_run_id"] is None]
    assert len(roots) == 2 and roots[1]["error"] is None
    nodes = sorted(_node_runs(runs, roots[1]["id"]), key=lambda r: r["dotted_order"])
    # the resumed graph run starts again at the node that died, not at init
    assert nodes[0]["name"] == "evaluate" and nodes[-1]["name"] == "finalize"


def test_summarize_condenses_a_state():
    state = {
        "beam": [{"id": "a", "prompt": {"sections": ["x" * 5000]}, "train_score": 0.5}],
        "seen": ["f"] * 1000,
        "q": {"values": {"task": {"refine": 0.2, "cot": 0.1}}},
        "history": [{"epoch": 0, "q": {}}, {"epoch": 1, "q": {}, "best_train": 0.7}],
    }
    out = summarize(state)
    assert out["beam"] == [{"id": "a", "train_score": 0.5}]
    assert out["seen_count"] == 1000 and "seen" not in out
    assert out["q_top"] == [["task", "refine", 0.2], ["task", "cot", 0.1]]
    assert out["history"] == [{"epoch": 1, "best_train": 0.7}] and out["history_rows"] == 2
    assert len(summarize({"text": "y" * 10_000})["text"]) < 2100


class _Sink(BaseHTTPRequestHandler):
    posted: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        is_json = "json" in self.headers.get("content-type", "")
        _Sink.posted.append((self.path, json.loads(body or b"{}") if is_json else body))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self):  # noqa: N802
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        return None


def test_trace_upload_posts_every_run_and_needs_an_endpoint(fake_resources, monkeypatch, capsys):
    run_dir = fake_resources / "run"
    asyncio.run(aoptimize(_config(run_dir, 1, track_dev=False)))
    rows = [json.loads(line) for line in (run_dir / HISTORY).read_text().splitlines()]
    assert [r["best_dev"] for r in rows[:-1]] == [None, None]
    for var in (
        "LANGSMITH_ENDPOINT",
        "LANGCHAIN_ENDPOINT",
        "LANGSMITH_API_KEY",
        "LANGCHAIN_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SystemExit) as e:
        main(["trace", "upload", str(run_dir)])
    assert e.value.code == 2 and "LANGSMITH_ENDPOINT" in capsys.readouterr().err

    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("LANGSMITH_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("LANGSMITH_API_KEY", "local-test")
        _Sink.posted.clear()
        main(["trace", "upload", str(run_dir), "--project", "p1"])
    finally:
        server.shutdown()
    runs = read_trace(run_dir)
    posted = [b for path, b in _Sink.posted if path == "/runs"]
    assert sorted(b["id"] for b in posted) == sorted(r["id"] for r in runs)
    assert {b["session_name"] for b in posted} == {"p1"}
    assert f"uploaded {len(runs)} runs" in capsys.readouterr().out
    assert (run_dir / TRACE).is_file()


class _Tok:
    def apply_chat_template(self, chat, tokenize=False, add_generation_prompt=True):
        return " | ".join(m["content"] for m in chat)


class _FakeLocal(LocalLM):
    def __init__(self):  # no weights: only what LocalChatModel touches
        self.tokenizer = _Tok()

    def generate_sync(self, texts, **kwargs):
        return [f" answer to {t} " for t in texts]


def test_local_chat_model_batch_reports_one_model_run_per_input():
    collector = RunCollector()
    chat = LocalChatModel(lm=_FakeLocal())
    outs = asyncio.run(chat.abatch(["one", "two"], {"callbacks": [collector]}))
    assert [o.content for o in outs] == ["answer to one", "answer to two"]
    runs = collector.records()
    assert [r["run_type"] for r in runs] == ["chat_model", "chat_model"]
    assert [r["inputs"]["messages"][0][0] for r in runs] == [
        {"type": "human", "content": "one"},
        {"type": "human", "content": "two"},
    ]
    texts = [r["outputs"]["generations"][0][0]["text"] for r in runs]
    assert texts == ["answer to one", "answer to two"]


def test_docstring_examples_run():
    import flowpo.reporting.svg
    import flowpo.search.promptdiff

    for mod in (flowpo.search.promptdiff, flowpo.reporting.svg):
        failed, tried = doctest.testmod(mod)
        assert failed == 0 and tried > 0


def test_example_budget_is_never_overshot_within_an_epoch(fake_resources):
    # train has 32 examples: the initial prompt costs 32, then one more candidate fits in
    # 80 and a second would not; the loop must stop there instead of after the epoch
    result = asyncio.run(
        aoptimize(_config(fake_resources / "run", 5, budget_examples=80, children_per_action=2))
    )
    spent = result["budget"]["examples_scored"]
    assert 32 < spent <= 80, result["budget"]
    assert "budget spent" in result["stop_reason"], result["stop_reason"]
    assert result["epochs"] <= 2


def test_langsmith_env_sends_condensed_runs_live(fake_resources, monkeypatch):
    """A LangSmith-compatible endpoint on 127.0.0.1 receives every run before the call returns."""
    from langsmith import utils

    def forget_env():  # langsmith caches what it read from the environment
        utils.get_env_var.cache_clear()
        utils.get_tracer_project.cache_clear()

    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Sink.posted.clear()
    try:
        monkeypatch.setenv("LANGSMITH_TRACING", "true")
        monkeypatch.setenv("LANGSMITH_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("LANGSMITH_API_KEY", "local-test")
        forget_env()
        asyncio.run(aoptimize(_config(fake_resources / "run", 1)))
        sent = b"".join(  # read as soon as the run returns: the runner flushed the sink
            b if isinstance(b, bytes) else json.dumps(b).encode() for _, b in _Sink.posted
        )
    finally:
        server.shutdown()
        monkeypatch.undo()
        forget_env()
    names = set(re.findall(rb'"name":\s*"([^"]+)"', sent))
    assert {b"flowpo", b"evaluate", b"target_lm", b"finalize"} <= names, names
    assert any(b"@" in n for n in names), names  # operator spans
    assert b"seen_count" in sent and b'"seen": [' not in sent  # states condensed
    assert re.search(rb'"method":\s*"promptflow"', sent)  # the root run's metadata
    assert re.search(rb'"task":\s*"sst2"', sent)
