"""The Postgres checkpointer against a real local PostgreSQL: kill -9 mid-run, then resume."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from postgres_cluster import find_bindir, postgres_cluster
from resume_helper import cache_rows, content_free_passes, epoch_to_redo, label_search_passes

from flowpo.graphs.resources import resources
from flowpo.run.checkpoints import thread_for
from flowpo.run.rundir import CANDIDATES, CHECKPOINTS, HISTORY
from flowpo.run.runner import aresume
from flowpo.run.settings import load_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_bindir() is None, reason="PostgreSQL is not installed"),
]

TINY = [
    "--task", "sst2", "--max-epochs", "1", "--actions-per-epoch", "2", "--reflect-cases", "0",
    "--operators", "few_shot,repeat_instructions", "--evaluate-test", "false", "--dtype", "float32",
    "--use-memory", "false",
]  # fmt: skip


@pytest.fixture(scope="module")
def pg_url():
    with postgres_cluster() as url:
        yield url


def _threads(url):
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT thread_id, COUNT(*) FROM checkpoints GROUP BY thread_id")
        return dict(rows.fetchall())


def test_kill_minus_9_then_resume_from_postgres(tmp_path, pg_url, embedded):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "flowpo", "optimize", *TINY, "--run-dir", str(run), "--quiet",
           "--checkpointer", pg_url]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        cands = run / CANDIDATES
        if cands.exists() and cands.read_text().count("\n") >= 1:  # epoch 0 evaluated
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    config = load_config(run)
    thread = thread_for(config)["configurable"]["thread_id"]
    assert not (run / CHECKPOINTS).exists()  # nothing went to SQLite
    at_kill = _threads(pg_url).get(thread, 0)
    assert at_kill >= 2  # the killed process checkpointed in Postgres

    lm = resources(config).target
    scored0, cached0, epochs_done = lm.stats.examples, cache_rows(run), epoch_to_redo(run)
    result = asyncio.run(aresume(run))
    assert result["epochs"] == 1 and "dev" in result["final"]
    assert _threads(pg_url)[thread] > at_kill  # the resumed run went on in the same thread
    # Every example scored after the kill was new: nothing already cached was scored again
    # (a calibrated prompt adds its content-free inputs: forward passes with no cache row;
    # a label-word search redone after the resume rebuilds its rows, outside the cache).
    extra = content_free_passes(run) + label_search_passes(
        run, epochs_done, len(resources(config).task.split("train")), config.screen_examples
    )
    assert 0 < lm.stats.examples - scored0 <= cache_rows(run) - cached0 + extra
    rows = (run / HISTORY).read_text().splitlines()
    assert rows[0].startswith('{"epoch": 0') and '"summary"' in rows[-1]
    # Resuming a finished run returns its result without work.
    again = asyncio.run(aresume(run))
    assert again["final"] == result["final"]


def test_a_refusing_postgres_url_fails_before_any_work(tmp_path):
    from flowpo.errors import ConfigError
    from flowpo.run.runner import optimize

    run = tmp_path / "run"
    start = time.time()
    with pytest.raises(ConfigError, match="cannot connect to the Postgres checkpointer") as err:
        optimize(
            task="sst2",
            run_dir=run,
            checkpointer="postgresql://nobody:secret@127.0.0.1:1/none",
            use_memory=False,
        )
    assert "secret" not in str(err.value) and err.value.field == "checkpointer"
    assert time.time() - start < 15
    assert not (run / CANDIDATES).exists()  # no prompt was scored
