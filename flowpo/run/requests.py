"""Turn a request (from a server client or a parent graph) into a checked run configuration.

A request is the flowpo graph's input: ``task`` (a built-in task name or a data file),
or ``examples`` (inline ``{"input", "target"}`` objects), and optionally ``config`` (any
:class:`~flowpo.config.OptimizeConfig` field); the run configuration may also come as the
graph's context. Every problem is a ``ConfigError``/``DataError`` naming the field.

File paths in a request cannot leave the configured roots: data files and prompt
templates must lie under the data directory, run and memory directories under the runs
directory (symbolic links are resolved first). Models (``model``, ``operator_model``,
``embedder``, ``gfn_model``) come only from the specs the operator allowed
(:attr:`Roots.models`, ``flowpo serve --models``) or the server's own configuration, so an
API key only ever goes to a base URL the operator configured; ``executor``,
``ray_address`` and ``checkpointer`` come from the server's configuration alone.
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
from flowpo.models.spec import DEFAULT_MODEL
from flowpo.run.rundir import CONFIG_FILE
from flowpo.tasks import task_spec
from flowpo.tasks.reading import FILE_SUFFIXES

INPUT_KEYS = ("task", "examples", "config")
EXAMPLES_FILE = "examples.jsonl"
MAX_INLINE_EXAMPLES = 10_000
DATA_DIR_ENV = "FLOWPO_SERVE_DATA_DIR"
RUNS_DIR_ENV = "FLOWPO_SERVE_RUNS_DIR"
MODELS_ENV = "FLOWPO_SERVE_MODELS"
MODEL_FIELDS = ("model", "operator_model", "embedder", "gfn_model")
"""Fields naming a model (and so an endpoint an API key may be sent to)."""
SERVER_FIELDS = ("executor", "ray_address", "checkpointer")
"""Fields only the server's configuration sets (a request may only repeat its value)."""


@dataclass(frozen=True)
class Roots:
    """What a request may reach: data files, run output, and the allowed model specs.

    Data files lie under ``data``, run output under ``runs``; ``models`` are the specs a
    request may choose besides those of the server's configuration.
    """

    data: Path
    runs: Path
    models: tuple[str, ...] = (DEFAULT_MODEL,)
    """Model specs requests may choose (``flowpo serve --models``)."""

    @classmethod
    def from_env(cls) -> Roots:
        """Read the roots and the allowed models from the environment.

        ``FLOWPO_SERVE_DATA_DIR`` (default: cwd), ``FLOWPO_SERVE_RUNS_DIR`` (runs/) and
        ``FLOWPO_SERVE_MODELS`` (comma-separated; default: the embedded model).
        """
        data = Path(os.environ.get(DATA_DIR_ENV) or Path.cwd())
        runs = Path(os.environ.get(RUNS_DIR_ENV) or "runs")
        return cls(data.resolve(), runs.resolve(), parse_models(os.environ.get(MODELS_ENV)))


def parse_models(text: str | None) -> tuple[str, ...]:
    """Return the specs of a comma-separated list (default: the embedded model alone)."""
    specs = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    return specs or (DEFAULT_MODEL,)


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
            field=str(unknown[0]) or "input",
            fix=f"use {', '.join(INPUT_KEYS)}; run settings go in 'config' or the context",
        )
    requested = _requested(context, request.get("config") or {})
    fields = {**(defaults or {}), **requested}
    _refuse_program(context, request.get("config") or {})
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
    server = cast(OptimizeConfig, make_config(OptimizeConfig, **(defaults or {})))
    _check_server_fields(config, server, requested, roots)
    return _confine(config, roots, inline=examples is not None)


def _requested(context: Any, overrides: Any) -> dict[str, Any]:
    """Return the settings a request asks for: its context, then its ``config``."""
    requested: dict[str, Any] = {}
    if isinstance(context, OptimizeConfig):
        requested.update(context.model_dump(exclude_unset=True))
    elif isinstance(context, Mapping):
        requested.update(context)
    if not isinstance(overrides, Mapping):
        raise ConfigError(
            "'config' must be an object of run settings",
            field="config",
            fix='send e.g. {"config": {"max_epochs": 2}}',
        )
    requested.update({f"{k}": v for k, v in overrides.items()})
    return requested


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
    return config.model_copy(update=update) if update else config


def check_settings(
    config: OptimizeConfig, *, defaults: Mapping[str, Any] | None = None, roots: Roots
) -> None:
    """Check settings that reached a graph's state by another way than :func:`check_request`.

    A caller may write a thread's state (a state update); its settings must still name
    only allowed models, the server's own executor and checkpointer, and paths under the
    roots (a task file under the data or the runs directory, for inline examples).

    Raises:
        ConfigError: The first setting the server does not allow.
    """
    server = cast(OptimizeConfig, make_config(OptimizeConfig, **(defaults or {})))
    _check_server_fields(config, server, config.model_dump(), roots)
    for name, root in (
        ("run_dir", roots.runs),
        ("memory_dir", roots.runs),
        ("prompt_file", roots.data),
    ):
        if getattr(config, name) is not None:
            _inside(Path(getattr(config, name)), root, name)
    task = Path(config.task)
    if task.suffix or len(task.parts) > 1:
        full = (task if task.is_absolute() else roots.data / task).resolve()
        if not (full.is_relative_to(roots.data) or full.is_relative_to(roots.runs)):
            raise ConfigError(
                f"the task file {config.task!r} is outside the data directory {roots.data}",
                field="task",
                fix=f"give a data file under {roots.data}",
            )


def allowed_models(server: OptimizeConfig, roots: Roots) -> list[str]:
    """Return the model specs a request may name: the operator's list, then the server's."""
    own = [getattr(server, name) for name in MODEL_FIELDS]
    return list(dict.fromkeys([*roots.models, *(s for s in own if s)]))


def _bare(spec: str) -> str:
    """Return a spec without a ``local:`` prefix (``gfn_model`` takes bare names)."""
    return spec.strip().removeprefix("local:")


def _check_server_fields(
    config: OptimizeConfig, server: OptimizeConfig, requested: Mapping[str, Any], roots: Roots
) -> None:
    """Refuse a requested model the operator did not allow, or a server-only setting."""
    allowed = allowed_models(server, roots)
    bare = {_bare(s) for s in allowed}
    for name in MODEL_FIELDS:
        value = getattr(config, name)
        if name not in requested or value is None or value == getattr(server, name):
            continue
        if value not in allowed and _bare(value) not in bare:
            raise ConfigError(
                f"the model {value!r} is not one this server allows",
                field=name,
                fix=f"choose one of {', '.join(allowed)} (the server's operator adds "
                "specs with 'flowpo serve --models SPEC,SPEC')",
            )
    for name in SERVER_FIELDS:
        if name in requested and getattr(config, name) != getattr(server, name):
            raise ConfigError(
                f"{name} is set by the server's configuration, not by a request",
                field=name,
                fix=f"leave {name} out of the request (the server's operator sets it, "
                f"e.g. FLOWPO_{name.upper()} when starting 'flowpo serve')",
            )


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
