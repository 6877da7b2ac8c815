"""Built-in tasks: benchmark data shipped as gzipped JSONL package data plus a catalog.

``flowpo/tasks/data/catalog.json`` holds every task's spec; ``data/<task>/<split>.jsonl.gz``
its examples (built by ``tools/build_task_data.py``). Few-shot GLUE/single-sentence tasks
also keep each LM-BFF seed's train/dev as ``train-<seed>``/``dev-<seed>``.
"""

from __future__ import annotations

import difflib
import gzip
import json
from dataclasses import replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from flowpo.errors import DataError
from flowpo.tasks.splits import halve, seeded_split
from flowpo.tasks.task import SPLITS, Task
from flowpo.types import Example, Input

CATALOG = "catalog.json"
FORMAT = 1
GROUP_ORDER = ("glue", "fewshot", "ii", "bbii", "mmlu", "chinese")


def example_key(value: Input, choices: Any = ()) -> str:
    """Return the text that identifies an example's input (and options) for deduplication."""
    return json.dumps([value, list(choices)], ensure_ascii=False, sort_keys=True)


def _key(example: Example) -> str:
    return example_key(example.input, example.choices)


def _data_dir() -> Any:
    return resources.files("flowpo.tasks").joinpath("data")


@lru_cache(maxsize=1)
def _catalog() -> dict[str, dict[str, Any]]:
    """Return the catalog's task specs by name (read once)."""
    res = _data_dir().joinpath(CATALOG)
    if not res.is_file():
        raise DataError(
            "the built-in task data is missing",
            where=str(res),
            fix="reinstall flowpo, or run `python tools/build_task_data.py`",
        )
    catalog = json.loads(res.read_text(encoding="utf-8"))
    if catalog.get("format") != FORMAT:
        raise DataError(
            f"task catalog format {catalog.get('format')!r} is not {FORMAT}",
            where=str(res),
            fix="rebuild it with tools/build_task_data.py",
        )
    tasks: dict[str, dict[str, Any]] = catalog["tasks"]
    return tasks


@cache
def _read_split(name: str, stem: str) -> tuple[Example, ...]:
    """Return the examples stored in ``data/<name>/<stem>.jsonl.gz`` (none if absent)."""
    res = _data_dir().joinpath(name, f"{stem}.jsonl.gz")
    if not res.is_file():
        return ()
    lines = gzip.decompress(res.read_bytes()).decode("utf-8").splitlines()
    out = []
    for line in lines:
        rec = json.loads(line)
        out.append(
            Example(
                rec["id"],
                rec["input"],
                rec["target"],
                tuple(rec.get("targets", ())),
                tuple(rec.get("choices", ())),
            )
        )
    return tuple(out)


def _groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name, spec in _catalog().items():
        groups.setdefault(spec["group"], []).append(name)
    return groups


def _spec(name: str) -> dict[str, Any]:
    catalog = _catalog()
    if name in catalog:
        return catalog[name]
    groups = _groups()
    if name in groups:
        members = sorted(groups[name])
        shown = ", ".join(members[:5]) + (", ..." if len(members) > 5 else "")
        raise DataError(
            f"{name!r} is a group of {len(members)} tasks, not one task",
            field="task",
            fix=f"load one of them: {shown}",
        )
    close = difflib.get_close_matches(name, list(catalog) + list(groups), n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise DataError(
        f"unknown task {name!r}",
        field="task",
        fix=f"{hint}`flowpo tasks` lists them all; a data file path needs a .jsonl or .csv suffix",
    )


def _renumber(split: str, examples: list[Example]) -> list[Example]:
    return [replace(e, id=f"{split}-{i}") for i, e in enumerate(examples)]


def _lmbff_seed(
    name: str, rule: dict[str, Any], splits: dict[str, list[Example]], seed: int
) -> dict[str, list[Example]]:
    """Swap in LM-BFF seed ``seed``'s train/dev; the default seed's join the pool."""
    if seed not in rule["seeds"]:
        raise DataError(
            f"task {name!r} has no LM-BFF seed {seed}",
            field="seed",
            fix=f"use one of {', '.join(map(str, rule['seeds']))}",
        )
    train = list(_read_split(name, f"train-{seed}"))
    dev = list(_read_split(name, f"dev-{seed}"))
    taken = {_key(e) for e in train + dev}
    pool: list[Example] = []
    for e in splits["pool"] + splits["train"] + splits["dev"]:
        k = _key(e)
        if k not in taken:
            taken.add(k)
            pool.append(e)
    return {"train": train, "dev": dev, "test": splits["test"], "pool": _renumber("pool", pool)}


def _resplit(
    rule: dict[str, Any],
    splits: dict[str, list[Example]],
    seed: int,
) -> dict[str, list[Example]]:
    """Draw train/dev/pool again from their union with another seed, by the task's rule."""
    union = splits["train"] + splits["dev"] + splits["pool"]
    key = (lambda e: e.target) if rule.get("stratify") else None
    if rule["kind"] == "halve":
        train, dev = halve(union, seed=seed, key=key)
        pool: list[Example] = []
    else:
        train, dev, pool = seeded_split(union, rule["counts"], seed=seed, key=key)
    return {
        "train": _renumber("train", train),
        "dev": _renumber("dev", dev),
        "test": splits["test"],
        "pool": _renumber("pool", pool),
    }


def load_task(name: str, *, seed: int | None = None) -> Task:
    """Load a built-in task.

    Args:
        name: Task name, as listed by ``flowpo tasks`` (e.g. ``sst2``, ``mmlu-marketing``).
        seed: Few-shot seed. LM-BFF tasks (GLUE and single-sentence): one of the LM-BFF
            seeds 13/21/42/87/100 (default 42). Sampled tasks: any integer redraws
            train/dev/pool from their union (default: the shipped seed-0 draw). MMLU: no
            effect (its train/dev are the 5 fixed examples).

    Returns:
        A new ``Task`` (the parsed examples are cached and shared; they are immutable).

    Raises:
        DataError: Unknown name (with close matches), a group name, or a bad seed.
    """
    spec = _spec(name)
    splits = {s: list(_read_split(name, s)) for s in SPLITS}
    rule = spec["split_rule"]
    if seed is not None and seed != rule.get("seed"):
        if rule["kind"] == "lmbff":
            splits = _lmbff_seed(name, rule, splits, seed)
        elif rule["kind"] in ("sample", "halve"):
            splits = _resplit(rule, splits, seed)
    return Task(
        name=name,
        kind=spec["kind"],
        metric=spec["metric"],
        labels=tuple(spec["labels"]),
        verbalizers={lab: spec["verbalizers"][lab] for lab in spec["labels"]},
        template=spec["template"],
        input_format=spec["input_format"],
        description=spec["description"],
        splits=splits,
        source=spec["source"],
        reference_prompts=tuple(spec.get("reference_prompts", ())),
    )


def task_spec(name: str) -> dict[str, Any]:
    """Return a copy of a built-in task's catalog entry (protocol, split rule, ...)."""
    return json.loads(json.dumps(_spec(name)))


def list_tasks(group: str | None = None) -> list[dict[str, Any]]:
    """List the built-in tasks from the catalog, without reading their examples.

    Args:
        group: Only this group's tasks (``glue``, ``fewshot``, ``ii``, ``bbii``, ``mmlu``,
            ``chinese``).

    Returns:
        One dict per task: name, group, kind, metric, n_labels, sizes (by split),
        description (what the task is) and protocol (where its splits come from); sorted
        by group (GLUE first), then name.
    """
    if group is not None and group not in _groups():
        raise DataError(
            f"unknown task group {group!r}",
            field="group",
            fix=f"use one of: {', '.join(sorted(_groups()))}",
        )
    rows = [
        {
            "name": name,
            "group": spec["group"],
            "kind": spec["kind"],
            "metric": spec["metric"],
            "n_labels": len(spec["labels"]),
            "sizes": dict(spec["sizes"]),
            "description": spec["description"],
            "protocol": spec["protocol"],
        }
        for name, spec in _catalog().items()
        if group is None or spec["group"] == group
    ]
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(rows, key=lambda r: (order.get(r["group"], len(order)), r["group"], r["name"]))
