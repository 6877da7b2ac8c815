"""Server runs are whole runs (issue 18, must-show 2): killed, then resumed and reported.

A run started through `flowpo serve` and one started with `create_graph` in a process of
its own are each stopped midway (the server by SIGTERM, the other process by SIGKILL);
`flowpo resume` finishes each from its run directory and `flowpo report` reports it. The
target and operator model is a fake OpenAI-compatible server, so no model is loaded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fault_server import FaultServer
from serve_helper import ROOT, processes_naming, start_server, stop_server

from flowpo.run.rundir import CHECKPOINTS, CONFIG_FILE, HISTORY, REPORT, TRACE

pytestmark = pytest.mark.slow
EXAMPLES = [
    {
        "input": f"review {i}: it was {'good' if i % 2 else 'bad'}",
        "target": "positive" if i % 2 else "negative",
        "split": "train" if i < 6 else "dev",
    }
    for i in range(8)
]
SMALL = {
    "max_epochs": 4,
    "concurrency": 1,  # one request at a time: the run lasts long enough to be stopped
    "patience": 5,
    "actions_per_epoch": 2,
    "operators": "refine,rewrite",
    "edit_format": False,
    "reflect_cases": 0,
    "evaluate_test": False,
    "use_memory": False,
}
ENV = {"OPENAI_API_KEY": "", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


@pytest.fixture
def model():
    server = FaultServer(delay=0.05)  # slow enough to stop a run in its middle
    yield server
    server.httpd.shutdown()


def _checkpoints(run_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{run_dir / CHECKPOINTS}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0])
    except sqlite3.Error:
        return 0


def _wait_for_checkpoints(find_run_dir, proc, n: int = 4, timeout: float = 120) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be stopped"
        run_dir = find_run_dir()
        if run_dir is not None and _checkpoints(run_dir) >= n:
            return run_dir
        time.sleep(0.05)
    raise AssertionError("no checkpoints appeared")


def _unfinished(run_dir: Path) -> bool:
    history = run_dir / HISTORY
    return not history.is_file() or "summary" not in history.read_text()


def _flowpo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowpo", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=300,
    )


def _resume_and_report(run_dir: Path) -> None:
    assert (run_dir / CONFIG_FILE).is_file()
    done = _flowpo("resume", str(run_dir), "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    history = [json.loads(x) for x in (run_dir / HISTORY).read_text().splitlines()]
    assert history[-1]["summary"] and history[-1]["epochs"] >= 1
    report = _flowpo("report", str(run_dir))
    assert report.returncode == 0, report.stderr[-3000:]
    html = (run_dir / REPORT).read_text()
    assert "flowpo run: ?" not in html and "Incomplete run directory" not in html
    assert "flowpo run: " in html and (run_dir / TRACE).is_file()
    assert (run_dir / "best_prompt.md").read_text().strip()


def test_a_server_run_stopped_midway_resumes_and_reports_from_the_cli(tmp_path, model):
    proc, url = start_server(tmp_path, "--models", model.spec, env=ENV)
    try:
        thread = httpx.post(f"{url}/threads", json={}).json()["thread_id"]
        config = {**SMALL, "model": model.spec, "operator_model": model.spec}
        body = {"assistant_id": "flowpo", "input": {"examples": EXAMPLES, "config": config}}
        r = httpx.post(f"{url}/threads/{thread}/runs", json=body)
        assert r.status_code == 200, r.text
        runs = tmp_path / "runs"

        def find() -> Path | None:
            found = [p for p in runs.iterdir() if (p / CONFIG_FILE).is_file()]
            return found[0] if found else None

        run_dir = _wait_for_checkpoints(find, proc)
    finally:
        code = stop_server(proc)
    assert code == 0  # SIGTERM: a clean stop of the whole server
    assert processes_naming(str(tmp_path / "runs" / ".server")) == []  # no langgraph left
    assert _unfinished(run_dir)  # it stopped midway
    _resume_and_report(run_dir)


SCRIPT = """
import asyncio, sys
from flowpo.graphs.service import create_graph

async def main():
    root, spec = sys.argv[1], sys.argv[2]
    graph = create_graph(data_dir=root, runs_dir=root + "/runs", models=spec)
    config = {**%s, "model": spec, "operator_model": spec, "run_dir": "cg"}
    await graph.ainvoke({"examples": %s, "config": config})

asyncio.run(main())
"""


def test_a_create_graph_run_killed_midway_resumes_and_reports_from_the_cli(tmp_path, model):
    script = SCRIPT % (SMALL, EXAMPLES)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), model.spec],
        env={**os.environ, **ENV},
        stderr=subprocess.PIPE,
    )
    run_dir = tmp_path / "runs" / "cg"
    try:
        _wait_for_checkpoints(lambda: run_dir, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert _unfinished(run_dir)
    _resume_and_report(run_dir)
