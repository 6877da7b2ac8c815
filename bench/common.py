"""What the benchmark harness (bench/run.py) and its DSPy peer (bench/dspy_peer.py) share.

The method lists come from flowpo's one registry (:mod:`flowpo.methods`): its baselines,
and its graph methods (PromptFlow once per operator-selector update, ``promptflow-msgd``
and ``promptflow-msgd-rl``). The DSPy peers are bench-only entries: DSPy's own compile
run through bench/dspy_peer.py, not flowpo methods.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
from pathlib import Path
from typing import Any, get_args

from flowpo.config import OptimizeConfig
from flowpo.methods import method_names

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
RUNS = Path("runs") / "bench"
MODEL = "local:smollm2-135m"

OPTIMIZERS = get_args(OptimizeConfig.model_fields["optimizer"].annotation)
BENCH_VARIANTS = {"promptflow": [f"promptflow-{o}" for o in OPTIMIZERS]}
"""Graph methods the bench runs once per setting (the selector update of PromptFlow)."""

BASELINE_METHODS = method_names(graph=False)
FLOWPO_METHODS = [v for m in method_names(graph=True) for v in BENCH_VARIANTS.get(m, [m])]
DSPY_METHODS = ["dspy-copro", "dspy-mipro", "dspy-gepa", "dspy-bootstrap-rs"]
"""Bench-only: DSPy's optimizers (bench/dspy_peer.py), not in flowpo's registry."""
METHODS = BASELINE_METHODS + FLOWPO_METHODS + DSPY_METHODS


def flowpo_method(bench_name: str) -> tuple[str, dict[str, Any]]:
    """Return the registry method of a bench graph method and its settings.

    ``promptflow-msgd-rl`` is ``("promptflow", {"optimizer": "msgd-rl"})``.
    """
    for method, variants in BENCH_VARIANTS.items():
        if bench_name in variants:
            return method, {"optimizer": bench_name.removeprefix(f"{method}-")}
    return bench_name, {}


def cell_key(c: dict[str, Any]) -> str:
    return f"{c['task']}|{c['method']}|{c['seed']}|{c['budget']}"


def load_results(path: Path) -> dict[str, Any]:
    if path.is_file():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {"cells": []}


def save_cell(path: Path, cell: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Merge one finished cell into the results file (locked: several harnesses may run)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = load_results(path)
        old = data.get("meta", {})
        commands = old.get("commands", [old["command"]] if "command" in old else [])
        if meta.get("command") and meta["command"] not in commands:
            commands.append(meta["command"])  # every command that added cells, in order
        data["meta"] = {**meta, **old, "updated": meta["updated"]}
        if commands:
            data["meta"]["commands"] = commands
        key = cell_key(cell)
        data["cells"] = [c for c in data["cells"] if cell_key(c) != key] + [cell]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
        tmp.replace(path)
    return data


def test_examples(task: Any, limit: int | None) -> list[Any]:
    """Return the test split, or a fixed seeded sample of ``limit`` (same for every method)."""
    test = list(task.split("test"))
    if limit is None or limit >= len(test):
        return test
    idx = sorted(random.Random(0).sample(range(len(test)), limit))
    return [test[i] for i in idx]


def setting(profile: dict[str, Any], task: Any, key: str) -> Any:
    """Return a profile setting, the generation tasks' own value when the profile has one."""
    if task.kind == "generation" and key in profile.get("generation", {}):
        return profile["generation"][key]
    return profile[key]


def commit() -> str:
    """Return the code's commit (a cell measured on other code is not comparable)."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=False, cwd=ROOT)
    return out.stdout.strip() or "unknown"


COMMIT = commit()
"""The commit when this process started: the code its cells run (later commits do not)."""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, " \
           f"Python {platform.python_version()}"


def mean_std(xs: list[float]) -> str:
    if not xs:
        return "—"
    if len(xs) == 1:
        return f"{xs[0]:.3f} (1 seed)"
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}"


def write_benchmarks(section: str, profile_name: str) -> None:
    """Replace the profile's generated block in BENCHMARKS.md (markers around it)."""
    path = ROOT.parent / "BENCHMARKS.md"
    start, end = f"<!-- bench:{profile_name}:start -->", f"<!-- bench:{profile_name}:end -->"
    text = path.read_text()
    block = f"{start}\n{section}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
