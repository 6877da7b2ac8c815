"""Ctrl-C during `flowpo optimize` (a real process, a fake server): step finished, exit 130."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_server import FaultServer

from flowpo.run.rundir import CANDIDATES, CHECKPOINTS, HISTORY
from flowpo.run.runner import aresume

pytestmark = pytest.mark.slow


def test_sigint_finishes_the_step_saves_and_says_how_to_resume(tmp_path):
    rows = [
        {
            "input": f"review {i}: it was {'good' if i % 2 else 'bad'}",
            "target": "positive" if i % 2 else "negative",
            "split": "train" if i < 8 else "dev",
        }
        for i in range(16)
    ]
    data = tmp_path / "reviews.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    server = FaultServer(delay=0.03)  # slow enough to be stopped in the middle
    run = tmp_path / "run"
    args = [
        "--task",
        str(data),
        "--model",
        server.spec,
        "--operator-model",
        server.spec,
        "--operators",
        "refine,rewrite,few_shot",
        "--edit-format",
        "false",
        "--max-epochs",
        "4",
        "--patience",
        "5",
        "--actions-per-epoch",
        "3",
        "--reflect-cases",
        "2",
        "--use-memory",
        "false",
        "--evaluate-test",
        "false",
        "--run-dir",
        str(run),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "OPENAI_API_KEY": ""}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowpo", "optimize", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            cands = run / CANDIDATES
            if cands.exists() and len(cands.read_text().splitlines()) >= 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "finishing the current step" in err
        assert f"flowpo resume {run}" in err and "Traceback" not in err
        history = [json.loads(line) for line in (run / HISTORY).read_text().splitlines()]
        assert history and not any("summary" in r for r in history)  # stopped, not finished
        assert (run / CHECKPOINTS).is_file()
        answered = sum(server.answered.values())
        result = asyncio.run(aresume(run))  # in this process: one interpreter start is enough
        assert result["epochs"] == 4
        assert sum(server.answered.values()) > answered
        assert all(n == 1 for n in server.answered.values())  # nothing scored twice
    finally:
        server.close()
