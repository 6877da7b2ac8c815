"""What the kill -9 resume tests count: the run's cached rows and its uncached passes."""

import json
import sqlite3
from pathlib import Path

from flowpo.evaluation.evaluator import CONTENT_FREE
from flowpo.run.rundir import CANDIDATES, EVAL_CACHE


def cache_rows(run: Path) -> int:
    """Return the rows of the run's evaluation cache."""
    with sqlite3.connect(run / EVAL_CACHE) as db:
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def content_free_passes(run: Path) -> int:
    """Return the forward passes with no cache row: a calibrated prompt's content-free inputs."""
    rows = [json.loads(line) for line in (run / CANDIDATES).read_text().splitlines()]
    return len(CONTENT_FREE) * sum(bool(r["prompt"].get("calibrate")) for r in rows)
