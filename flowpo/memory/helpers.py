"""What the optimizer asks of the memory: Q-table warm starts, RAG texts, near duplicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowpo.memory.records import MemoryRecord
from flowpo.memory.store import MemoryStore
from flowpo.search.policy import QTable

OVERFETCH = 4
"""Candidates fetched per requested result, before re-ranking and de-duplication."""


def q_table_dict(record: MemoryRecord) -> dict[str, Any] | None:
    """Return the Q table a ``q_table`` record holds (``data["q_table"]``), or None if invalid."""
    raw = record.data.get("q_table", record.data)
    try:
        return QTable.from_dict(raw).to_dict()
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def similar_q_tables(
    store: MemoryStore,
    task_description: str,
    k: int = 3,
    *,
    exclude_run: str | None = None,
) -> list[tuple[dict[str, Any], float, str]]:
    """Return learnt Q tables of the tasks most like ``task_description``.

    ``q_table`` records carry the task description as text and ``QTable.to_dict()`` in
    ``data["q_table"]``. Feed the result to ``QTable.blend([(QTable.from_dict(d), w)])``.

    Returns:
        Up to ``k`` ``(q table dict, similarity >= 0, task name)``, most similar first;
        records whose table does not parse are skipped.
    """
    out = []
    hits = store.search(task_description, k * OVERFETCH, kind="q_table", exclude_run=exclude_run)
    for record, sim in hits:
        table = q_table_dict(record)
        if table is not None:
            out.append((table, max(0.0, sim), record.task))
        if len(out) == k:
            break
    return out


def retriever_for(
    store: MemoryStore,
    *,
    kind: str = "section",
    exclude_run: str | None = None,
    task: str | None = None,
) -> Callable[[str, int], list[tuple[str, float]]]:
    """Return a ``Retriever`` for the RAG operator (``ctx.retrieve(query, k)``).

    It finds the scored records of ``kind`` most similar to the query and ranks them by
    ``similarity x score`` (similar and good first), one hit per distinct text.

    Args:
        store: The memory.
        kind: Which records to draw from.
        exclude_run: Leave out this run's records (the current run has its own history).
        task: Only this task's records (default: every task).
    """

    def retrieve(query: str, k: int) -> list[tuple[str, float]]:
        hits = store.search(
            query, k * OVERFETCH, kind=kind, task=task, exclude_run=exclude_run, min_score=0.0
        )
        best: dict[str, tuple[float, str]] = {}
        for record, sim in hits:
            weight = max(0.0, sim) * float(record.score or 0.0)
            key = " ".join(record.text.split())
            if key and weight > best.get(key, (-1.0, ""))[0]:
                best[key] = (weight, record.text)
        ranked = sorted(best.values(), key=lambda wt: (-wt[0], wt[1]))
        return [(text, weight) for weight, text in ranked[:k]]

    return retrieve


def near_duplicate(
    store: MemoryStore, text: str, task: str, threshold: float = 0.98
) -> MemoryRecord | None:
    """Return a scored prompt record of ``task`` at least ``threshold`` similar to ``text``.

    Its score can stand in for evaluating ``text`` again. The most similar match wins
    (then the higher score, then the older record); ``None`` when nothing is that close.
    """
    hits = store.search(text, 5, kind="prompt", task=task, min_score=float("-inf"))
    close = [(rec, sim) for rec, sim in hits if sim >= threshold and rec.score is not None]
    if not close:
        return None
    return max(close, key=lambda h: (h[1], float(h[0].score or 0.0), -(h[0].id or 0)))[0]
