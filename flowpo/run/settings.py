"""The run's saved configuration: where a run goes, writing it, reading it to resume."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from flowpo.config import OptimizeConfig
from flowpo.errors import ConfigError, DataError
from flowpo.run.rundir import CONFIG_FILE, write_atomic


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
