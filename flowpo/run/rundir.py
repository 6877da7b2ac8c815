"""The run directory: its configuration, artefacts, and checks when a run is resumed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import yaml

from flowpo.config import OptimizeConfig
from flowpo.errors import ConfigError, DataError
from flowpo.prompt import Prompt

CONFIG_FILE = "config.yaml"
CHECKPOINTS = "checkpoints.sqlite"
EVAL_CACHE = "eval_cache.sqlite"
HISTORY = "history.jsonl"
CANDIDATES = "candidates.jsonl"
TRACE = "trace.json"
REPORT = "report.html"
BEST_JSON = "best_prompt.json"
BEST_MD = "best_prompt.md"
GFN_HISTORY = "gfn_history.jsonl"
GFN_ADAPTER = "gfn_adapter.safetensors"


def default_run_dir(config: OptimizeConfig) -> Path:
    """Return ``runs/<task>-<method>-<time>`` for a config without a run directory."""
    name = Path(config.task).stem if Path(config.task).suffix else config.task
    return Path("runs") / f"{name}-{config.method}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare(config: OptimizeConfig) -> OptimizeConfig:
    """Create the run directory and save the configuration; refuse to mix two tasks."""
    run_dir = config.run_dir or default_run_dir(config)
    config = config.model_copy(update={"run_dir": run_dir})
    saved = run_dir / CONFIG_FILE
    if saved.exists():
        old = load_config(run_dir)
        if old.task != config.task:
            raise ConfigError(
                f"the run directory belongs to task {old.task!r}, not {config.task!r}",
                where=str(run_dir),
                field="run_dir",
                fix="use 'flowpo resume' for that run, or choose a new --run-dir",
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(saved, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    return config


def load_config(run_dir: Path) -> OptimizeConfig:
    """Read the configuration a run was started with."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            "not a flowpo run directory (no config.yaml)",
            where=str(run_dir),
            field="run_dir",
            fix="give the directory 'flowpo optimize' created",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return OptimizeConfig(**{k: v for k, v in data.items() if v is not None})
    except (yaml.YAMLError, ValueError) as e:
        raise DataError(
            f"the run configuration does not load: {e}",
            where=str(path),
            fix="restore the file or start a new run",
        ) from None


def write_atomic(path: Path, text: str) -> None:
    """Write a file so a crash leaves either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_history(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``history.jsonl`` with ``rows`` (one per epoch, then the summary)."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_atomic(run_dir / HISTORY, text)


def append_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows to a JSON-lines file, flushed to disk."""
    with path.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_best(
    run_dir: Path, prompt: Prompt, info: dict[str, Any], template: str, verbalizers: dict[str, str]
) -> None:
    """Write ``best_prompt.md`` (usable anywhere, and by ``--prompt-file``) and its JSON."""
    full = Prompt(
        prompt.sections,
        prompt.template or template,
        {**verbalizers, **(prompt.verbalizers or {})},
        prompt.calibrate,
    )
    write_atomic(run_dir / BEST_MD, full.to_markdown())
    write_atomic(
        run_dir / BEST_JSON,
        json.dumps(
            {"prompt": full.to_dict(), "text": full.text, **info}, indent=2, ensure_ascii=False
        ),
    )
