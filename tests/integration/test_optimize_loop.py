"""The PromptFlow loop end to end with the embedded model, a SQLite checkpointer, kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from resume_helper import cache_rows, content_free_passes, epoch_to_redo, label_search_passes

from flowpo.cli import main
from flowpo.graphs.resources import resources
from flowpo.prompt import Prompt
from flowpo.run.rundir import EVAL_CACHE, HISTORY
from flowpo.run.runner import aresume, optimize
from flowpo.run.settings import load_config

pytestmark = pytest.mark.slow

SMALL = [
    "--task",
    "sst2",
    "--max-epochs",
    "2",
    "--actions-per-epoch",
    "3",
    "--reflect-cases",
    "2",
    "--operator-max-tokens",
    "24",
    "--evaluate-test",
    "false",
    "--dtype",
    "float32",
]


def test_short_run_writes_every_artefact(tmp_path, capsys):
    run = tmp_path / "run"
    events = []
    result = optimize(
        task="sst2",
        max_epochs=2,
        actions_per_epoch=3,
        reflect_cases=2,
        operator_max_tokens=24,
        evaluate_test=False,
        dtype="float32",
        run_dir=run,
        on_event=events.append,
    )
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [0, 1, 2]
    assert events[-1]["event"] == "done"
    assert result["epochs"] == 2 and "max_epochs" in result["stop_reason"]
    assert result["final"]["dev"] >= 0 and result["budget"]["examples_scored"] >= 32
    rows = [json.loads(line) for line in (run / HISTORY).read_text().splitlines()]
    assert [r["epoch"] for r in rows[:-1]] == [0, 1, 2] and rows[-1]["summary"]
    _check_trace_and_report(run)
    usage = rows[-1]["operator_usage"]
    # 2 epochs x 3 planned edits; an edit whose operator offered several new prompts is
    # credited once per prompt kept (children_per_action), so count the recorded actions
    recorded = [a for r in rows[:-1] for a in r["actions"]]
    assert 6 <= len(recorded) <= 6 * 2
    assert sum(u["chosen"] for u in usage.values()) == len(recorded)
    best = Prompt.from_file(run / "best_prompt.md")
    # Default mode may have changed frame and label words; the file states both.
    assert best.template and "{text}" in best.template
    assert best.verbalizers and set(best.verbalizers) == {"negative", "positive"}
    # The best prompt file is usable as it is by `flowpo eval`.
    main(
        [
            "eval",
            "--task",
            "sst2",
            "--split",
            "dev",
            "--prompt-file",
            str(run / "best_prompt.md"),
            "--dtype",
            "float32",
            "--cache",
            str(run / EVAL_CACHE),
            "--quiet",
            "--output",
            str(tmp_path / "e.json"),
        ]
    )
    out = json.loads((tmp_path / "e.json").read_text())
    assert out["score"] == pytest.approx(result["final"]["dev"])
    assert out["model_calls"] == 0  # scored during finalize: served from the run's cache


def test_kill_minus_9_then_resume_rescoring_nothing(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "flowpo", "optimize", *SMALL, "--run-dir", str(run), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    mid_epoch = False  # killed inside an `evaluate` node, after part of its work was cached
    at_epoch0 = 0  # cache rows when epoch 0's evaluation was written
    while time.time() < deadline and proc.poll() is None:
        history = run / HISTORY
        epochs = len(history.read_text().splitlines()) if history.exists() else 0
        if epochs >= 2:
            break
        if epochs == 1:
            at_epoch0 = at_epoch0 or cache_rows(run)
            if cache_rows(run) >= at_epoch0 + 32:
                mid_epoch = True
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before, at_kill = cache_rows(run), epoch_to_redo(run)
    # The initial prompt was scored (a second start may have been served from the memory
    # of an earlier run of the same task: a near-duplicate costs nothing and adds no row).
    assert before >= 32

    config = load_config(run)
    lm = resources(config).target
    scored0 = lm.stats.examples
    import asyncio

    result = asyncio.run(aresume(run))
    scored = lm.stats.examples - scored0
    # Every example the model scored after the kill was new: nothing scored twice. (New
    # rows may outnumber forward passes: label-word changes are scored from memoised rows;
    # a calibrated prompt adds its content-free inputs, forward passes with no row, and a
    # label-word search redone after the resume rebuilds its rows, outside the cache.)
    rebuilt = label_search_passes(
        run, at_kill, len(resources(config).task.split("train")), config.screen_examples
    )
    assert 0 < scored <= cache_rows(run) - before + content_free_passes(run) + rebuilt
    assert result["epochs"] == 2 and "dev" in result["final"]
    if mid_epoch:  # the re-run evaluate node found its first candidate in the cache
        assert result["budget"]["examples_cached"] >= 32


def _check_trace_and_report(run):
    """The real run's trace: one run per node execution, real model calls under them."""
    from flowpo.run.tracing import read_trace

    runs = read_trace(run)
    root = next(r for r in runs if r["parent_run_id"] is None)
    nodes = [r for r in runs if r["parent_run_id"] == root["id"]]
    names = [n["name"] for n in sorted(nodes, key=lambda r: r["dotted_order"])]
    epoch = ["reflect", "select", "edit", "evaluate", "review"]  # review: no approval asked
    assert names == ["init", "evaluate", "review", *epoch, *epoch, "finalize"]
    parents = {r["id"]: r for r in runs}
    chats = [r for r in runs if r["run_type"] == "chat_model" and r["name"] == "LocalChatModel"]
    assert chats and all(r["outputs"]["generations"] for r in chats)
    scoring = [r for r in runs if r["run_type"] == "llm" and r["name"] == "target_lm"]
    assert scoring and all(r["outputs"]["scored"] == r["inputs"]["examples"] for r in scoring)
    for chat in chats:  # each operator-LM call sits under a node (reflect or an edit operator)
        up = parents[chat["parent_run_id"]]
        assert up["name"] == "reflect" or "@" in up["name"]
    html = (run / "report.html").read_text()
    assert "Q over epochs" in html and f"{len(runs)} runs in trace.json" in html
