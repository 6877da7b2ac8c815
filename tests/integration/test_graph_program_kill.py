"""A two-node LangGraph program from the user's module: killed with -9, resumed, both prompts."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from flowpo.run.rundir import BEST_JSON, CANDIDATES

pytestmark = pytest.mark.slow

MODULE = """
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from flowpo.configurable import ConfigurableProgram


class State(TypedDict, total=False):
    question: str
    draft: str
    answer: str


def shout(state: State, config: RunnableConfig) -> dict[str, Any]:
    prompt = config["configurable"].get("shout", "")
    word = state["question"]
    return {"draft": "big " + word if "Remember:" in prompt else word}


def exclaim(state: State, config: RunnableConfig) -> dict[str, Any]:
    prompt = config["configurable"].get("exclaim", "")
    return {"answer": state["draft"] + (" now" if "Remember:" in prompt else "")}


builder = StateGraph(State)
builder.add_node("shout", shout)
builder.add_node("exclaim", exclaim)
builder.add_edge(START, "shout")
builder.add_edge("shout", "exclaim")
builder.add_edge("exclaim", END)
program = ConfigurableProgram(
    builder.compile(),
    {"shout": "Write the word in capitals.", "exclaim": "End with an exclamation mark."},
    input_key="question",
)
"""
WORDS = ["cat", "dog", "bird", "fish", "frog", "mouse", "owl", "bee"]


def test_graph_program_survives_kill_minus_9(tmp_path):
    (tmp_path / "wordgraph.py").write_text(MODULE)
    data = tmp_path / "words.jsonl"
    splits = ["train"] * 4 + ["dev"] * 2 + ["test"] * 2
    data.write_text(
        "".join(
            json.dumps({"input": w, "target": f"big {w} now", "split": s}) + "\n"
            for w, s in zip(WORDS, splits, strict=True)
        )
    )
    run = tmp_path / "run"
    flags = [
        "--task",
        str(data),
        "--program",
        "wordgraph:program",
        "--metric",
        "exact_match",
        "--max-epochs",
        "3",
        "--actions-per-epoch",
        "2",
        "--operators",
        "repeat_instructions,few_shot",  # the reminder is what the scripted graph rewards
        "--reflect-cases",
        "0",
        "--operator-max-tokens",
        "24",
        "--use-memory",
        "false",
        "--dtype",
        "float32",
        "--run-dir",
        str(run),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowpo", "optimize", *flags],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        cands = run / CANDIDATES
        if cands.exists() and len(cands.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    out = subprocess.run(
        [sys.executable, "-m", "flowpo", "resume", str(run), "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "stopped:" in out.stdout
    best = json.loads((run / BEST_JSON).read_text())["prompt"]
    names = [s["name"] for s in best["sections"]]
    assert "prompt: shout" in names and "prompt: exclaim" in names
    # the start prompts miss every answer; the shared reminder changes both prompts
    assert "train  initial 0.0000  ->  final 1.0000" in out.stdout
    print(out.stdout)
