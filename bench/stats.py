"""The medium profile's statistics, pure and model-free: significance, sample efficiency, curve.

* :func:`paired_bootstrap`: paired bootstrap over test examples (Efron & Tibshirani 1993,
  §16; the form used for MT by Koehn 2004): resample example indices with replacement,
  recompute the mean difference; the one-sided p-value is the share of resamples where
  the first system is not ahead.
* :func:`examples_to_reach`: from flowpo's per-epoch history (cumulative train examples
  scored, dev score of the best prompt so far), the first spend at which the dev score
  reached a target.
* :func:`returned_history`: the same, candidate by candidate (each row's ``spent``): the
  dev score of what flowpo would return had it stopped after that candidate.
* :func:`best_rows_at`: the best-so-far candidate at each checkpoint budget (the curve at
  64/128/256 read from one run).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from typing import Any


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, resamples: int = 10_000, seed: int = 0
) -> dict[str, float]:
    """Compare two systems scored on the same examples by a paired bootstrap.

    Args:
        a: Per-example scores of the first system (e.g. flowpo), in example order.
        b: The second system's scores on the same examples, same order.
        resamples: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        ``diff`` (mean(a) - mean(b)), ``p`` (share of resamples with a difference <= 0:
        one-sided, "a is not better"), ``lo``/``hi`` (95% percentile interval of the
        difference) and ``n``.

    Raises:
        ValueError: The two lists differ in length or are empty.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"paired scores need two equal, non-empty lists ({len(a)} vs {len(b)})")
    d = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    n, rng = len(d), random.Random(seed)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    not_ahead = sum(1 for m in means if m <= 0)
    return {
        "diff": sum(d) / n,
        "p": not_ahead / resamples,
        "lo": means[int(0.025 * (resamples - 1))],
        "hi": means[int(0.975 * (resamples - 1))],
        "n": float(n),
    }


def examples_to_reach(history: Sequence[Sequence[float | None]], target: float) -> float | None:
    """Return the train examples spent when the best prompt's dev score first reached ``target``.

    Args:
        history: ``[examples_scored, best_dev]`` per epoch, in order (cumulative spend;
            ``best_dev`` may be ``None`` where it was not taken).
        target: The dev score to reach (e.g. the best peer's final dev score).

    Returns:
        The spend at the first epoch whose best dev is at least ``target``, else ``None``.
    """
    for spent, dev in history:
        if dev is not None and spent is not None and dev >= target - 1e-12:
            return float(spent)
    return None


def returned_history(
    rows: Sequence[dict[str, Any]],
    dev_of: Callable[[dict[str, Any]], tuple[float, float]],
    n_dev: int,
    soft_weight: float,
) -> list[list[float]]:
    """Return ``[spent, dev]`` after each scored candidate: what the run would return then.

    flowpo's finalize step chooses, train and dev pooled
    (:func:`flowpo.search.selection.choose`), among the best candidate on the reward set
    and the held-back retrieving start; this replays that choice on the candidates scored
    so far (a run's beam may hold more finalists: the replay can only under-state it).

    Args:
        rows: The run's ``candidates.jsonl`` rows, in scoring order, each with ``spent``
            (the run's train examples spent once it was scored).
        dev_of: A candidate row -> its prompt's dev (score, soft score).
        n_dev: The dev examples (pooled with the reward set's in the choice).
        soft_weight: The run's soft weight.

    Returns:
        ``[spent, dev of the chosen]`` per scored candidate; ``[]`` when a row has no
        ``spent`` (runs from before it was recorded).
    """
    from flowpo.search.objective import objective
    from flowpo.search.selection import choose

    if any("spent" not in r for r in rows):
        return []
    best: dict[str, Any] | None = None
    reserve: list[dict[str, Any]] = []
    devs: dict[str, tuple[float, float]] = {}
    out: list[list[float]] = []
    for row in rows:
        if row.get("train_score") is None or row.get("screened") or row.get("superseded"):
            continue
        if row.get("held_back"):
            reserve.append(row)
        elif best is None or objective(row, soft_weight) > objective(best, soft_weight):
            best = row
        finalists = [c for c in (best, *reserve) if c is not None]
        for c in finalists:
            if c["id"] not in devs:
                devs[c["id"]] = dev_of(c)
        n_train = int(sum(m.get("support", 0) for m in (row.get("per_label") or {}).values()))
        scored = [{**c, "val_score": devs[c["id"]][0], "val_soft": devs[c["id"]][1]}
                  for c in finalists]
        chosen = choose(scored, n_train or 1, n_dev, soft_weight)
        out.append([float(row["spent"]), chosen["val_score"]])
    return out


def best_rows_at(
    rows: Sequence[dict[str, Any]], budgets: Sequence[int]
) -> dict[int, dict[str, Any] | None]:
    """Return the history row of the last epoch within each budget (its ``best_id``: the curve).

    Args:
        rows: flowpo ``history.jsonl`` rows (``best_id``, ``budget.examples_scored``).
        budgets: Checkpoints, e.g. ``[64, 128, 256]``.

    Returns:
        Budget -> that row (``None`` when no epoch ended within it).
    """
    out: dict[int, dict[str, Any] | None] = {}
    for b in budgets:
        within = [r for r in rows if "epoch" in r
                  and float((r.get("budget") or {}).get("examples_scored", 0)) <= b]
        out[b] = within[-1] if within else None
    return out


def mean_over(cells: Sequence[dict[str, Any]], key: str) -> float | None:
    """Return the mean of ``key`` over the cells that have it (``None`` when none has)."""
    xs = [float(c[key]) for c in cells if c.get(key) is not None]
    return statistics.mean(xs) if xs else None


def best_peer(cells: Sequence[dict[str, Any]], task: str, peers: Sequence[str]) -> str | None:
    """Return the peer with the highest mean test score on ``task`` (finished cells only)."""
    scored = {}
    for m in peers:
        got = mean_over([c for c in cells if (c["task"], c["method"]) == (task, m)
                         and c.get("status") == "ok"], "test")
        if got is not None:
            scored[m] = got
    return max(scored, key=lambda m: scored[m]) if scored else None


def paired_over_seeds(
    cells: Sequence[dict[str, Any]], task: str, first: str, second: str
) -> tuple[list[float], list[float]]:
    """Return both methods' per-example test scores over the seeds both finished, paired."""
    by = {(c["method"], c["seed"]): c for c in cells
          if c["task"] == task and c.get("status") == "ok" and c.get("test_scores")}
    a: list[float] = []
    b: list[float] = []
    for (m, s), c in sorted(by.items(), key=lambda kv: str(kv[0])):
        other = by.get((second, s))
        if m == first and other and len(other["test_scores"]) == len(c["test_scores"]):
            a += c["test_scores"]
            b += other["test_scores"]
    return a, b
