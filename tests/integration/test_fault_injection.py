"""Fault injection: a misbehaving OpenAI-compatible server plays target and operator LM.

Every run either finishes or stops with a resumable checkpoint; after ``aresume`` it
finishes, and no example the target model answered is ever requested twice (nothing
scored is lost). Pickle loading is patched to raise for the whole module (no pickle).
Run with ``-s`` to see the summary line of faults injected and survived.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fault_server import FaultServer
from langgraph.runtime import RunControl

from flowpo.errors import ModelError, RunStopped
from flowpo.graphs.resources import resources
from flowpo.run.rundir import CHECKPOINTS, EVAL_CACHE, HISTORY
from flowpo.run.runner import aoptimize, aresume
from flowpo.run.settings import load_config

pytestmark = pytest.mark.slow

TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    injected, survived = TALLY["injected"], TALLY["survived"]
    print(
        f"\nfault injection: {injected} faults injected, {survived} survived "
        f"({TALLY['retried']} retried away, {TALLY['rejected']} operator outputs rejected, "
        f"{TALLY['stops']} stops resumed to the end); runs {TALLY['runs']}, "
        f"finished {TALLY['finished']}; scored examples lost {TALLY['lost']}"
    )
    assert injected == survived and TALLY["lost"] == 0


@pytest.fixture(autouse=True)
def no_pickle(monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "HTTP_PROXY",
        "http_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def task_file(tmp_path_factory) -> Path:
    rows = []
    for i in range(16):
        word = "good" if i % 2 else "bad"
        split = "train" if i < 8 else "dev"
        label = "positive" if word == "good" else "negative"
        rows.append(
            {"id": f"r{i}", "input": f"review {i}: it was {word}", "target": label, "split": split}
        )
    path = tmp_path_factory.mktemp("data") / "reviews.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def serve():
    servers: list[FaultServer] = []

    def start(*args: Any, **kwargs: Any) -> FaultServer:
        servers.append(FaultServer(*args, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def settings(server: FaultServer, task: Path, run: Path, **extra: Any) -> dict[str, Any]:
    return {
        "task": str(task),
        "model": server.spec,
        "operator_model": server.spec,
        "operators": "refine,rewrite,short_instruction,few_shot",
        "edit_format": False,
        "max_epochs": 3,
        "patience": 5,
        "actions_per_epoch": 3,
        "reflect_cases": 2,
        "use_memory": False,
        "evaluate_test": False,
        "concurrency": 4,
        "request_timeout": 0.5,
        "max_retries": 3,
        "retry_backoff": 0.01,
        "run_dir": run,
        **extra,
    }


def cache_rows(run: Path) -> int:
    with sqlite3.connect(run / EVAL_CACHE) as db:
        return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


def repeats(server: FaultServer) -> int:
    """Target inputs answered more than once: scored work that was lost and redone."""
    return sum(n - 1 for n in server.answered.values() if n > 1)


def rejected_reasons(run: Path) -> list[str]:
    rows = [json.loads(line) for line in (run / HISTORY).read_text().splitlines()]
    return [a["reason"] for r in rows for a in r.get("actions", []) if a.get("failed")]


def finish(result: dict[str, Any], server: FaultServer) -> None:
    assert result["epochs"] == 3 and "dev" in result["final"]
    TALLY["runs"] += 1
    TALLY["finished"] += 1
    TALLY["lost"] += repeats(server)


def test_transient_faults_are_retried_or_rejected_and_the_run_finishes(serve, task_file, tmp_path):
    target = {
        2: "429",
        5: "500",
        9: "503",
        12: "timeout",
        15: "reset",
        20: "garbage",
        24: "429",
        31: "timeout",
        41: "500",
        50: "reset",
    }
    # A retry is a new request (it takes the next index); garbage lands on edits and
    # on the reflection alike, so it is scheduled often.
    operator = {
        1: "429",
        3: "500",
        5: "timeout",
        6: "op_garbage",
        7: "op_long",
        8: "op_garbage",
        9: "op_slot",
        10: "op_garbage",
        11: "op_empty",
        12: "op_garbage",
    }
    server = serve(target, operator, timeout_sleep=0.8)
    run = tmp_path / "run"
    result = asyncio.run(aoptimize(**settings(server, task_file, run)))
    finish(result, server)
    lm = resources(load_config(run)).target
    # Every target fault was seen by the client and retried away; none reached the loop.
    target_injected = sum(n for k, n in server.injected.items() if k.startswith("target:"))
    assert target_injected == len(target)
    assert sum(lm.retry_stats.faults.values()) == lm.retry_stats.retries == len(target)
    assert lm.retry_stats.gave_up == 0
    assert {"timeout", "connection", "http_429", "http_500", "http_503", "garbage"} <= set(
        lm.retry_stats.faults
    )
    reasons = rejected_reasons(run)
    garbage = [r for r in reasons if "not text" in r or "mostly symbols" in r]
    rejected = [
        r
        for r in reasons
        if any(k in r for k in ("empty", "too long", "slot", "not text", "symbols"))
    ]
    assert garbage and rejected
    op_injected = sum(n for k, n in server.injected.items() if k.startswith("operator:"))
    assert op_injected >= 8 and server.operator_requests >= 8
    TALLY["injected"] += target_injected + op_injected
    TALLY["retried"] += lm.retry_stats.retries + 3  # operator 429/500/timeout: client retries
    TALLY["rejected"] += op_injected - 3
    TALLY["survived"] += target_injected + op_injected


def test_outage_stops_resumably_and_resume_loses_no_scored_example(serve, task_file, tmp_path):
    # Target requests 20..59 all fail: more than 1 + max_retries attempts, so the run stops.
    server = serve(down=range(20, 60))
    run = tmp_path / "run"
    with pytest.raises(ModelError) as err:
        asyncio.run(aoptimize(**settings(server, task_file, run)))
    message = str(err.value)
    assert "HTTP 503" in message and f"flowpo resume {run}" in message
    assert (run / CHECKPOINTS).is_file()
    saved = cache_rows(run)
    # Examples answered before the outage (also inside the failing batch) are in the cache.
    assert saved == sum(server.answered.values()) and saved >= 8
    injected = server.injected_total
    server.heal()
    result = asyncio.run(aresume(run))
    finish(result, server)
    assert repeats(server) == 0  # nothing answered before the stop was asked for again
    assert cache_rows(run) > saved
    TALLY["injected"] += injected
    TALLY["survived"] += injected
    TALLY["stops"] += 1


def test_drain_request_finishes_the_step_then_resume_completes(serve, task_file, tmp_path):
    server = serve()
    run = tmp_path / "run"
    control = RunControl()

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "epoch" and event["epoch"] == 1:
            control.request_drain("test")  # what the first Ctrl-C does

    with pytest.raises(RunStopped) as err:
        asyncio.run(
            aoptimize(**settings(server, task_file, run), on_event=on_event, control=control)
        )
    assert f"flowpo resume {run}" in str(err.value) and "after epoch 1" in str(err.value)
    history = [json.loads(line) for line in (run / HISTORY).read_text().splitlines()]
    assert [r["epoch"] for r in history] == [0, 1]  # the step in progress was finished
    result = asyncio.run(aresume(run))
    finish(result, server)
    TALLY["injected"] += 1
    TALLY["survived"] += 1
    TALLY["stops"] += 1


def test_target_without_logprobs_is_reported_once_with_the_fix(serve, task_file, tmp_path):
    server = serve({n: "nologprobs" for n in range(1, 100)})
    run = tmp_path / "run"
    with pytest.raises(ModelError) as err:
        asyncio.run(aoptimize(**settings(server, task_file, run)))
    message = str(err.value)
    assert message.count("does not return log-probs") == 1
    assert "generation mode" in message
    assert server.target_requests <= 8  # refused up front: no retry storm
    assert not (run / CHECKPOINTS).exists()  # the preflight check refused it before any work
    injected = server.injected_total
    server.heal()  # the user points the run at a server with log-probs
    finish(asyncio.run(aoptimize(**settings(server, task_file, tmp_path / "again"))), server)
    TALLY["injected"] += injected
    TALLY["survived"] += injected
    TALLY["stops"] += 1


def test_operator_lm_down_fails_actions_but_not_the_run(serve, task_file, tmp_path):
    server = serve(operator_faults={n: "500" for n in range(1, 400)})
    run = tmp_path / "run"
    result = asyncio.run(aoptimize(**settings(server, task_file, run, max_retries=1)))
    finish(result, server)
    reasons = rejected_reasons(run)
    assert any("operator LM failed" in r for r in reasons)
    n = server.injected_total
    TALLY["injected"] += n
    TALLY["survived"] += n
    TALLY["rejected"] += n
