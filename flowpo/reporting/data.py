"""Read what a run directory holds for the report, noting every file that is missing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowpo.prompt import Prompt
from flowpo.run.rundir import BEST_JSON, CANDIDATES, CONFIG_FILE, GFN_HISTORY, HISTORY, TRACE

KNOWN_ROW_KEYS = {"epoch", "best_train", "best_loss", "best_id", "best_dev", "evaluated"}


@dataclass
class RunData:
    """The parts of a run the report renders; ``missing`` explains what could not be read."""

    run_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    trace_runs: list[dict[str, Any]] = field(default_factory=list)
    gfn: list[dict[str, Any]] = field(default_factory=list)
    """Rows of ``gfn_history.jsonl`` (the GFlowNet sampler's per-epoch log), if any."""
    missing: list[str] = field(default_factory=list)

    def initial_prompt(self) -> Prompt | None:
        """Return the starting prompt (from ``best_prompt.json``, else candidate ``c0``)."""
        if self.best.get("initial_prompt"):
            return Prompt.from_dict(self.best["initial_prompt"])
        first = next((c for c in self.candidates if c.get("epoch") == 0), None)
        return Prompt.from_dict(first["prompt"]) if first else None

    def best_prompt(self) -> tuple[Prompt, str] | None:
        """Return the chosen prompt and where it comes from (final, or best so far)."""
        if self.best.get("prompt"):
            return Prompt.from_dict(self.best["prompt"]), "chosen on dev (best_prompt.json)"
        best_id = next((r["best_id"] for r in reversed(self.epochs) if r.get("best_id")), None)
        cand = next((c for c in self.candidates if c.get("id") == best_id), None)
        if cand:
            return Prompt.from_dict(cand["prompt"]), f"best on train so far ({best_id})"
        return None


def load(run_dir: Path) -> RunData:
    """Read config, history, candidates, best prompt and trace; never raise on a gap."""
    data = RunData(Path(run_dir))
    if not data.run_dir.is_dir():
        data.missing.append(f"the directory {run_dir} does not exist")
        return data
    data.config = _yaml(data, CONFIG_FILE)
    for row in _jsonl(data, HISTORY, "no epoch has been evaluated yet"):
        if row.get("summary"):
            data.summary = row
        elif "epoch" in row:
            data.epochs.append(row)
    data.candidates = _jsonl(data, CANDIDATES, "no candidate has been scored yet")
    data.best = _json(data, BEST_JSON, "the run has not finished (no final prompt yet)")
    if (data.run_dir / GFN_HISTORY).is_file():
        data.gfn = _jsonl(data, GFN_HISTORY, "")
    if (data.run_dir / TRACE).is_file():  # optional: written after finalize, by the runner
        trace = _json(data, TRACE, "")
        data.trace_runs = list(trace.get("runs", [])) if isinstance(trace.get("runs"), list) else []
    if data.epochs and not data.summary:
        data.missing.append(f"{HISTORY} has no summary row: the run did not reach finalize")
    return data


def _mapping(
    data: RunData,
    name: str,
    missing: str,
    parse: Callable[[str], Any],
    errors: type[Exception],
    damaged: str | None = None,
) -> dict[str, Any]:
    """Return the mapping file ``name`` holds, or ``{}`` after noting why it is unreadable.

    Args:
        data: The run being read; every gap is appended to its ``missing``.
        name: The file's name in the run directory.
        missing: The note when the file does not exist.
        parse: Turns the file's text into data (``json.loads``, ``yaml.safe_load``).
        errors: What ``parse`` raises on damaged text.
        damaged: Why damaged text does not parse (default: the error's class name).
    """
    path = data.run_dir / name
    if not path.is_file():
        data.missing.append(missing)
        return {}
    try:
        loaded = parse(path.read_text(encoding="utf-8"))
    except errors as e:
        data.missing.append(f"{name} does not parse ({damaged or e.__class__.__name__})")
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _yaml(data: RunData, name: str) -> dict[str, Any]:
    missing = f"{name} is missing (not a complete run directory)"
    return _mapping(data, name, missing, yaml.safe_load, yaml.YAMLError)


def _json(data: RunData, name: str, why: str) -> dict[str, Any]:
    missing = f"{name} is missing: {why}"
    return _mapping(data, name, missing, json.loads, ValueError, "truncated or damaged")


def _jsonl(data: RunData, name: str, why: str) -> list[dict[str, Any]]:
    path = data.run_dir / name
    if not path.is_file():
        data.missing.append(f"{name} is missing: {why}")
        return []
    rows, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
    if bad:
        data.missing.append(f"{name}: {bad} damaged line(s) skipped")
    return rows


def extra_series(epochs: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Return every other numeric per-epoch value (e.g. ``gfn_loss``, ``gfn: {reward}``).

    Nested dicts are flattened as ``parent_key``; ``budget`` and ``q`` are left out.
    """
    out: dict[str, list[tuple[float, float]]] = {}
    for row in epochs:
        epoch = float(row.get("epoch", 0))
        for key, value in _flat(row):
            out.setdefault(key, []).append((epoch, value))
    return out


def gfn_series(rows: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Return the sampler's numeric values per epoch as ``sampler_<key>`` series."""
    out: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        epoch = float(row.get("epoch", 0))
        for key, value in _flat({k: v for k, v in row.items() if k not in ("epoch", "step")}):
            out.setdefault(f"sampler_{key}", []).append((epoch, value))
    return out


def _flat(row: dict[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    items: list[tuple[str, float]] = []
    for key, value in row.items():
        name = f"{prefix}{key}"
        if not prefix and (key in KNOWN_ROW_KEYS or key in ("budget", "q", "actions")):
            continue
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            items.append((name, float(value)))
        elif isinstance(value, dict):
            items.extend(_flat(value, f"{name}_"))
    return items


def operator_stats(epochs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Return per operator: chosen, failed, improved, total gain (from the actions)."""
    out: dict[str, dict[str, float]] = {}
    for row in epochs:
        for a in row.get("actions") or []:
            s = out.setdefault(
                str(a.get("operator")), {"chosen": 0, "failed": 0, "improved": 0, "gain": 0.0}
            )
            s["chosen"] += 1
            s["failed"] += bool(a.get("failed"))
            s["improved"] += float(a.get("gain") or 0.0) > 0
            s["gain"] += float(a.get("gain") or 0.0)
    return out
