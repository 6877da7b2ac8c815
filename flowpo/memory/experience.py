"""What a run takes from and gives to the experience memory.

* Q warm start: the Q tables of the most similar past tasks, blended by similarity
  (PromptFlow's MSGD-RL "recycles experience").
* RAG: related high-scoring sections of past runs for the RAG operator.
* Near-duplicates: a remembered prompt whose model input is the same is not scored again.
* Remembered start: the prompt a past run of the same task, target model and train split
  chose (best on train and dev pooled) joins the starting candidates.
* At the end: evaluated prompts and sections with scores, bad-case reasons and summary,
  operator outcomes, the learnt Q table and the task description.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from flowpo.memory.records import MemoryRecord
from flowpo.memory.store import MemoryStore
from flowpo.prompt import Prompt
from flowpo.search.policy import QTable
from flowpo.types import Example

log = logging.getLogger(__name__)
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

KEPT = ("near_key", "train_key", "train_soft", "per_label")
"""Candidate fields stored with a prompt record so a near-duplicate can reuse its score."""
NEAR = 0.9
"""Least embedding similarity at which a remembered prompt is checked as a near-duplicate."""


def warm_start(
    store: MemoryStore, q: QTable, description: str, run: str
) -> tuple[QTable, list[dict[str, Any]]]:
    """Return Q blended from similar past tasks' tables, and which tables were used."""
    found = [
        (d, sim, task)
        for d, sim, task in similar_q_tables(store, description, k=3, exclude_run=run)
        if sim > 0
    ]
    if not found:
        return q, []
    blended = q.blend([(QTable.from_dict(d), sim) for d, sim, _ in found])
    used = [{"task": task, "similarity": round(sim, 4)} for _, sim, task in found]
    log.info("Q warm start from %s", used)
    return blended, used


def split_key(examples: Sequence[Example]) -> str:
    """Return a hash of a split's inputs and targets (a stored score is reusable on equal keys)."""
    raw = json.dumps([[str(e.input), str(e.target)] for e in examples], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def remembered_score(
    store: MemoryStore | None, text: str, task: str, model: str, keys: dict[str, str]
) -> dict[str, Any] | None:
    """Return the stored train score of a near-duplicate prompt scored before, else ``None``.

    The vector search finds past prompts of ``task`` whose text is nearly the same; one is
    reused only when the target model, the train split and the model input up to
    whitespace (``near_key``: frame, label words, calibration, words) are all equal, so a
    reused score is the score this prompt would get.
    """
    if store is None or not len(store):
        return None
    for record, similarity in store.search(text, 5, kind="prompt", task=task):
        data = record.data or {}
        if (
            similarity >= NEAR
            and record.model == model
            and record.score is not None
            and data.get("near_key") == keys["near_key"]
            and data.get("train_key") == keys["train_key"]
        ):
            log.info("near-duplicate of a remembered prompt (run %s): not scored", record.run)
            return {
                "train_score": float(record.score),
                "train_soft": float(data.get("train_soft", 0.0)),
                "per_label": dict(data.get("per_label", {})),
                "memory_run": record.run,
            }
    return None


def remembered_start(
    store: MemoryStore, task: str, model: str, train_key: str, *, exclude_run: str | None = None
) -> tuple[dict[str, Any], str] | None:
    """Return the prompt (``Prompt.to_dict()``) past runs chose for this task, and its run.

    Only prompts a run chose to deploy count, and only from runs of the same task, target
    model and train split (``train_key``), so their scores compare; the best by train and
    dev pooled wins (the latest on ties). ``None`` when no past run qualifies.
    """
    found = [
        r for r in store.find(kind="prompt", task=task, model=model, exclude_run=exclude_run)
        if r.data.get("chosen") and r.data.get("train_key") == train_key
    ]
    if not found:
        return None

    def pooled(r: MemoryRecord) -> tuple[float, int]:
        return (float(r.score or 0.0) + float(r.data.get("val_score") or 0.0), r.id or 0)

    best = max(found, key=pooled)
    store.note_read([best])
    return dict(best.data["prompt"]), best.run


def prompt_records(
    archive: Sequence[dict[str, Any]],
    chosen: dict[str, Any] | None,
    *,
    task: str,
    run: str,
    model: str,
) -> list[MemoryRecord]:
    """Return a record per evaluated prompt and per section; the chosen one is marked."""
    records = []
    if chosen is not None:  # last, so it is the record kept among equal texts
        archive = [c for c in archive if c["id"] != chosen["id"]] + [chosen]
    for cand in archive:
        prompt, score = Prompt.from_dict(cand["prompt"]), cand.get("train_score")
        mark = (
            {"chosen": True, "val_score": chosen.get("val_score")}
            if chosen is not None and cand["id"] == chosen["id"]
            else {}
        )
        data = {"prompt": cand["prompt"], "id": cand["id"],
                **{k: cand[k] for k in KEPT if k in cand}, **mark}
        records.append(MemoryRecord("prompt", prompt.text, task, run, model, score, data))
        records += [
            MemoryRecord("section", s.text, task, run, model, score, {"section": s.name})
            for s in prompt.sections
        ]
    return records


def remember(
    store: MemoryStore,
    state: dict[str, Any],
    *,
    task: str,
    description: str,
    run: str,
    model: str,
    chosen: dict[str, Any] | None = None,
) -> int:
    """Store what the run learnt; return the number of records written.

    ``chosen`` is the candidate the run deployed (with its ``val_score``): its record is
    marked, so a later run of the same task can start from it (:func:`remembered_start`).
    """
    records = [MemoryRecord("task", description, task, run, model)]
    records += prompt_records(state.get("archive", []), chosen, task=task, run=run, model=model)
    reflection = state.get("reflection") or {}
    for reason in reflection.get("reasons", []):
        records.append(MemoryRecord("reason", reason, task, run, model))
    if reflection.get("summary"):
        records.append(MemoryRecord("summary", reflection["summary"], task, run, model))
    for op, row in (state.get("usage") or {}).items():
        records.append(
            MemoryRecord(
                "operator_outcome",
                f"{op} on {task}",
                task,
                run,
                model,
                row.get("gain", 0.0) / max(row.get("chosen", 1), 1),
                dict(row),
            )
        )
    if state.get("q"):
        records.append(
            MemoryRecord("q_table", description, task, run, model, data={"q_table": state["q"]})
        )
    unique = {(r.kind, r.text): r for r in records if r.text.strip()}
    store.add(list(unique.values()))
    return len(unique)
