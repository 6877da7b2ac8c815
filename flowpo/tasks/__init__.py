"""Tasks: built-in benchmarks shipped with flowpo, and any JSONL/CSV file as a task.

A ``Task`` holds examples by split (``train`` = reward set, ``dev`` = selection, ``test`` =
report once, ``pool`` = demonstrations), the metric, and for classification the labels and
the one-token verbalizer of each label.

* ``load_task("sst2", seed=13)``: a built-in task (``list_tasks()`` or ``flowpo tasks``
  lists them: few-shot GLUE, single-sentence classification, instruction induction,
  BIG-Bench instruction induction, MMLU subjects, Chinese THUCNews/CLUENER).
* ``task_from_file("reviews.csv", labels="neg,pos")``: a user file.
* ``resolve_task(name_or_path, **kwargs)``: either, whichever the argument names.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from flowpo.errors import DataError
from flowpo.tasks.builtin import list_tasks, load_task, task_spec
from flowpo.tasks.files import task_from_file
from flowpo.tasks.reading import FILE_SUFFIXES
from flowpo.tasks.task import SPLITS, Task

__all__ = [
    "SPLITS",
    "Task",
    "list_tasks",
    "load_task",
    "resolve_task",
    "task_from_file",
    "task_spec",
]

_FILE_ONLY_DEFAULTS: dict[str, Any] = {
    "input_field": "input",
    "target_field": "target",
    "labels": None,
    "name": None,
    "split_field": None,
}


def resolve_task(name_or_path: str | Path, **file_kwargs: Any) -> Task:
    """Return the task a name or a path refers to.

    A file that exists, or a path ending in ``.jsonl``/``.json``/``.ndjson``/``.csv``/``.tsv``,
    becomes a file task (``task_from_file(path, **file_kwargs)``); anything else is a
    built-in task name. For a built-in task ``seed`` picks the few-shot seed and
    ``template``, ``verbalizers`` (list, comma string or dict) and ``metric`` override the
    task's own; ``None`` values are ignored.

    Raises:
        DataError: Unknown task, bad file, or a file-only option given for a built-in task.
    """
    given = {k: v for k, v in file_kwargs.items() if v is not None}
    path = Path(name_or_path)
    if path.suffix.lower() in FILE_SUFFIXES or path.is_file():
        return task_from_file(path, **given)
    name = str(name_or_path)
    wrong = [
        k for k, v in given.items() if k in _FILE_ONLY_DEFAULTS and v != _FILE_ONLY_DEFAULTS[k]
    ]
    unknown = [
        k
        for k in given
        if k not in _FILE_ONLY_DEFAULTS
        and k not in ("seed", "template", "verbalizers", "metric", "max_input_chars")
    ]
    if wrong or unknown:
        raise DataError(
            f"option(s) {', '.join(wrong + unknown)} only apply to data files",
            where=f"task {name}",
            fix="drop them, or pass a .jsonl/.csv path",
        )
    task = load_task(name, seed=given.get("seed"))
    overrides: dict[str, Any] = {k: given[k] for k in ("template", "metric") if k in given}
    if "verbalizers" in given:
        overrides["verbalizers"] = _verbalizers(task, given["verbalizers"])
    return replace(task, **overrides) if overrides else task


def _verbalizers(task: Task, words: Any) -> dict[str, str]:
    if isinstance(words, dict):
        unknown = sorted(set(map(str, words)) - set(task.labels))
        if unknown:
            raise DataError(
                f"verbalizers for unknown labels {unknown}",
                where=f"task {task.name}",
                field="verbalizers",
                fix=f"use the labels {list(task.labels)}",
            )
        return {lab: str(words.get(lab, task.verbalizers[lab])) for lab in task.labels}
    given = [w.strip() for w in words.split(",")] if isinstance(words, str) else list(words)
    if len(given) != len(task.labels):
        raise DataError(
            f"{len(given)} verbalizers {given} for {len(task.labels)} labels {list(task.labels)}",
            where=f"task {task.name}",
            field="verbalizers",
            fix="give exactly one word per label, in the labels' order",
        )
    return dict(zip(task.labels, given, strict=True))
