"""What the kill -9 resume tests count: the run's cached rows and its uncached passes."""

import json
import sqlite3
from pathlib import Path

from flowpo.evaluation.evaluator import CONTENT_FREE
from flowpo.run.rundir import CANDIDATES, EVAL_CACHE, HISTORY


def cache_rows(run: Path) -> int:
    """Return the rows of the run's evaluation cache."""
    with sqlite3.connect(run / EVAL_CACHE) as db:
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def content_free_passes(run: Path) -> int:
    """Return the forward passes with no cache row: a calibrated prompt's content-free inputs."""
    rows = [json.loads(line) for line in (run / CANDIDATES).read_text().splitlines()]
    return len(CONTENT_FREE) * sum(bool(r["prompt"].get("calibrate")) for r in rows)


def label_search_passes(run: Path, since_epoch: int, reward: int, screen: int) -> int:
    """Return at most how many passes a resumed run spends rebuilding label-word rows.

    The label-word search reads the target's full next-token rows, which live in the
    model's in-process memo, not in the evaluation cache: a resumed process computes them
    again for each frame or label-word candidate of the epochs it scores again or anew
    (``since_epoch`` on), on the reward set and the screening minibatch. Passes the
    evaluator spends on examples already cached are not allowed for.
    """
    rows = [json.loads(line) for line in (run / CANDIDATES).read_text().splitlines()]
    searched = [
        r for r in rows
        if r.get("epoch", 0) >= since_epoch
        and (r.get("action") or [None, None])[1] in ("frame", "label_words")
    ]
    return len(searched) * (reward + screen)


def epoch_to_redo(run: Path) -> int:
    """Return the first epoch a resume may score again: the last one history.jsonl shows.

    A run killed after its evaluate node wrote the epoch but before the checkpoint redoes it.
    """
    path = run / HISTORY
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0
