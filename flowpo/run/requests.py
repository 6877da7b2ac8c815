"""Turn a request (from a server client or a parent graph) into a checked run configuration.

A request is the flowpo graph's input: ``task`` (a built-in task name or a data file),
or ``examples`` (inline ``{"input", "target"}`` objects), and optionally ``config`` (any
:class:`~flowpo.config.OptimizeConfig` field); the run configuration may also come as the
graph's context. Every problem is a ``ConfigError``/``DataError`` naming the field.

File paths in a request cannot leave the configured roots: data files and prompt
templates must lie under the data directory, run and memory directories under the runs
directory (symbolic links are resolved first).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flowpo.config import OptimizeConfig, data_task, make_config
from flowpo.errors import ConfigError, DataError
from flowpo.run.rundir import CONFIG_FILE
from flowpo.tasks import task_spec
from flowpo.tasks.reading import FILE_SUFFIXES

INPUT_KEYS = ("task", "examples", "config")
EXAMPLES_FILE = "examples.jsonl"
MAX_INLINE_EXAMPLES = 10_000
DATA_DIR_ENV = "FLOWPO_SERVE_DATA_DIR"
RUNS_DIR_ENV = "FLOWPO_SERVE_RUNS_DIR"


@dataclass(frozen=True)
class Roots:
    """Where request paths may point: data files under ``data``, run output under ``runs``."""

    data: Path
    runs: Path

    @classmethod
    def from_env(cls) -> Roots:
        """Read ``FLOWPO_SERVE_DATA_DIR`` (default: cwd) and ``FLOWPO_SERVE_RUNS_DIR`` (runs/)."""
        data = Path(os.environ.get(DATA_DIR_ENV) or Path.cwd())
        runs = Path(os.environ.get(RUNS_DIR_ENV) or "runs")
        return cls(data.resolve(), runs.resolve())


def check_request(
    request: Any, context: Any = None, *, defaults: Mapping[str, Any] | None = None, roots: Roots
) -> OptimizeConfig:
    """Validate a request and return its run configuration (no file is written).

    Precedence: ``defaults`` < ``context`` < ``request["config"]`` < ``request["task"]``
    (or its ``examples``). ``run_dir`` is left unset when the request does not name one.

    Raises:
        ConfigError: A wrong type, an unknown field, a path outside the roots.
        DataError: An unknown task, a missing data file, malformed inline examples.
    """
    if not isinstance(request, Mapping):
        raise ConfigError(
            f"the input must be an object, not {type(request).__name__}",
            field="input",
            fix='send e.g. {"task": "sst2"}',
        )
    unknown = [k for k in request if k not in INPUT_KEYS]
    if unknown:
        raise ConfigError(
            f"unknown input field(s) {', '.join(map(str, unknown))}",
            field=str(unknown[0]),
            fix=f"use {', '.join(INPUT_KEYS)}; run settings go in 'config' or the context",
        )
    fields = dict(defaults or {})
    if isinstance(context, OptimizeConfig):
        fields.update(context.model_dump(exclude_unset=True))
    elif isinstance(context, Mapping):
        fields.update(context)
    overrides = request.get("config") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(
            "'config' must be an object of run settings",
            field="config",
            fix='send e.g. {"config": {"max_epochs": 2}}',
        )
    fields.update({f"{k}": v for k, v in overrides.items()})
    _refuse_program(context, overrides)
    task, examples = request.get("task"), request.get("examples")
    if task is not None and examples is not None:
        raise ConfigError(
            "give either a task or inline examples, not both",
            field="examples",
            fix="drop 'task' to optimize on the examples",
        )
    if task is not None:
        if not isinstance(task, str) or not task.strip():
            raise ConfigError(
                f"the task must be a non-empty string, not {task!r}",
                field="task",
                fix="give a built-in task name (see 'flowpo tasks') or a data file path",
            )
        fields["task"] = task
    if examples is not None:
        _check_examples(examples)
        fields["task"] = EXAMPLES_FILE
    config = cast(OptimizeConfig, make_config(OptimizeConfig, **fields))
    return _confine(config, roots, inline=examples is not None)


def prepare_request(
    request: Any, context: Any = None, *, defaults: Mapping[str, Any] | None = None, roots: Roots
) -> OptimizeConfig:
    """Check a request, create its run directory and load its task once (fails early).

    Inline examples are written to ``<run_dir>/examples.jsonl``, which becomes the task.
    """
    config = check_request(request, context, defaults=defaults, roots=roots)
    if config.run_dir is None:
        name = "examples" if config.task == EXAMPLES_FILE else Path(config.task).stem
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = roots.runs / f"{name}-{config.method}-{stamp}-{uuid.uuid4().hex[:6]}"
    else:
        run_dir = Path(config.run_dir)
        if (run_dir / CONFIG_FILE).exists():
            raise ConfigError(
                "the run directory already holds a run",
                where=str(config.run_dir),
                field="run_dir",
                fix="leave run_dir unset (a new directory is made) or name a new one",
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.task == EXAMPLES_FILE:
        path = run_dir / EXAMPLES_FILE
        rows = request["examples"]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        config = config.model_copy(update={"task": str(path)})
    config = config.model_copy(update={"run_dir": run_dir})
    try:
        data_task(config)  # with the request's data options (input/target fields, ...)
    except DataError as e:
        field = "examples" if Path(config.task).name == EXAMPLES_FILE else "task"
        raise DataError(e.what, where=e.where, field=e.field or field, fix=e.fix) from None
    return config


def _refuse_program(context: Any, overrides: Mapping[str, Any]) -> None:
    """A program is code imported by name: only the graph's defaults may name one."""
    from_context = context if isinstance(context, Mapping) else {}
    if isinstance(context, OptimizeConfig):
        from_context = {"program": context.program}
    if overrides.get("program") or from_context.get("program"):
        raise ConfigError(
            "a request may not name a program (it would import code on the server)",
            field="program",
            fix="set the program in the graph's defaults: create_graph({'program': ...})",
        )


def _check_examples(examples: Any) -> None:
    fix = 'send a list like [{"input": "great film", "target": "positive"}, ...]'
    if not isinstance(examples, list) or not examples:
        raise DataError("'examples' must be a non-empty list of objects", field="examples", fix=fix)
    if len(examples) > MAX_INLINE_EXAMPLES:
        raise DataError(
            f"{len(examples)} inline examples (at most {MAX_INLINE_EXAMPLES})",
            field="examples",
            fix="put them in a data file under the server's data directory",
        )
    for i, ex in enumerate(examples):
        if not isinstance(ex, Mapping):
            raise DataError(f"example {i} is not an object", field=f"examples[{i}]", fix=fix)
        for key in ("input", "target"):
            if key not in ex:
                raise DataError(
                    f"example {i} has no {key!r}", field=f"examples[{i}].{key}", fix=fix
                )


def _confine(config: OptimizeConfig, roots: Roots, *, inline: bool) -> OptimizeConfig:
    update: dict[str, Any] = {}
    task = Path(config.task)
    if not inline and (task.suffix.lower() in FILE_SUFFIXES or len(task.parts) > 1):
        update["task"] = str(_inside(task, roots.data, "task", must_exist=True))
    elif not inline:
        task_spec(config.task)  # an unknown name fails here, with close matches
    if config.prompt_file is not None:
        update["prompt_file"] = _inside(config.prompt_file, roots.data, "prompt_file", True)
    if config.run_dir is not None:
        update["run_dir"] = _inside(config.run_dir, roots.runs, "run_dir")
    if config.memory_dir is not None:
        update["memory_dir"] = _inside(config.memory_dir, roots.runs, "memory_dir")
    for name in ("model", "operator_model", "embedder"):
        spec = getattr(config, name)
        if spec and spec.startswith("local:") and ("/" in spec or "\\" in spec):
            path = _inside(Path(spec.removeprefix("local:")), roots.data, name, True)
            update[name] = f"local:{path}"
    return config.model_copy(update=update) if update else config


def _inside(path: Path, root: Path, field: str, must_exist: bool = False) -> Path:
    full = (path if path.is_absolute() else root / path).resolve()
    if not full.is_relative_to(root):
        raise ConfigError(
            f"the path {str(path)!r} is outside the "
            f"{'runs' if field in ('run_dir', 'memory_dir') else 'data'} directory {root}",
            field=field,
            fix=f"give a path under {root} (relative paths are taken from there)",
        )
    if must_exist and not full.exists():
        raise DataError(
            f"no such file {str(path)!r} under {root}",
            field=field,
            fix="check the name, or 'flowpo tasks' for the built-in task names",
        )
    return full
