"""What the Python API takes that ``config.yaml`` cannot hold: inline examples, metric callables.

``flowpo.optimize(examples=[...], metric=fn)`` (or ``dataset=``/``examples=`` a
:class:`~flowpo.dataset.Dataset`): the examples are written to
``<run_dir>/examples.jsonl``, which becomes the task (so ``resume`` needs nothing more;
a dataset's field names become the run's ``input_field``/``target_field``);
the metric is checked on the first training example and registered for the run, and the
configuration saves ``metric: python:<name>`` (a resume asks for the same function).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowpo.config import OptimizeConfig, data_task
from flowpo.configurable import ConfigurableProgram
from flowpo.dataset import Dataset
from flowpo.errors import ConfigError, DataError
from flowpo.metrics.callables import (
    PYTHON_PREFIX,
    as_metric,
    metric_name,
    register_metric,
    registered_metric,
)
from flowpo.programs import PYTHON_PREFIX as PROGRAM_PREFIX
from flowpo.programs import ChatProgram, Program, as_program, load_program, register_program
from flowpo.run.settings import default_run_dir
from flowpo.types import Example

EXAMPLES_FILE = "examples.jsonl"
PROGRAM_PROMPTS = "program_prompts.md"
"""A configurable program's start prompts, one Markdown section each (start=template)."""


@dataclass
class Inline:
    """What a call gave as objects: examples, a metric callable, a chat program."""

    examples: list[Any] | None = None
    metric: Callable[..., Any] | None = None
    program: Program | None = None


_FIX = 'give a list like [{"input": "great film", "target": "positive", "split": "train"}]'


def take_inline(overrides: dict[str, Any]) -> Inline:
    """Remove inline examples, a metric callable and a program object from ``overrides``.

    What is left in ``overrides`` fits :class:`~flowpo.config.OptimizeConfig` (``task``
    becomes ``examples.jsonl``, ``metric`` ``python:<name>``, ``program`` ``python:<type>``).
    """
    examples, fn, program = _take_examples(overrides), None, None
    if callable(overrides.get("metric")):
        fn = overrides["metric"]
        overrides["metric"] = metric_name(fn)
    if overrides.get("program") is not None and not isinstance(overrides["program"], str):
        program = as_program(overrides["program"])  # checked now: TypeError/ValueError
        runnable = getattr(overrides["program"], "runnable", overrides["program"])
        overrides["program"] = PROGRAM_PREFIX + type(runnable).__name__
    if examples is not None:
        if overrides.get("task") not in (None, EXAMPLES_FILE):
            raise ConfigError(
                "give either a task or inline examples, not both",
                field="examples",
                fix="drop task= to optimize on the examples",
            )
        overrides["task"] = EXAMPLES_FILE
    return Inline(examples, fn, program)


def _take_examples(overrides: dict[str, Any]) -> Any:
    """Pop ``examples``/``dataset``; a :class:`Dataset` also sets the data options."""
    examples, dataset = overrides.pop("examples", None), overrides.pop("dataset", None)
    if examples is not None and dataset is not None:
        raise ConfigError(
            "give either examples= or dataset=, not both",
            field="dataset",
            fix="pass the Dataset as dataset= (or as examples=) alone",
        )
    if isinstance(examples, Dataset):
        examples, dataset = None, examples
    if dataset is None:
        return examples
    if not isinstance(dataset, Dataset):
        raise ConfigError(
            f"dataset= is a {type(dataset).__name__}, not a flowpo.Dataset",
            field="dataset",
            fix="give flowpo.Dataset(train=[...], dev=[...]) or Dataset.from_file(path), "
            "or pass a list of dicts as examples=",
        )
    for key, value in dataset.data_options().items():
        if overrides.get(key) not in (None, value):
            raise ConfigError(
                f"{key}={overrides[key]!r} but the dataset's is {value!r}",
                field=key,
                fix=f"drop {key}= (the Dataset carries its field names)",
            )
        overrides[key] = value
    return dataset.rows()


def attach_inline(config: OptimizeConfig, inline: Inline) -> OptimizeConfig:
    """Choose the run directory, write the examples there, register the metric and program.

    A program run starts from the program's system message (unless ``prompt`` is given)
    and never edits a frame or label words (``edit_format`` off).
    """
    examples, fn = inline.examples, inline.metric
    if examples is None and fn is None and inline.program is None and not config.program:
        return config
    run_dir = Path(config.run_dir or default_run_dir(config))
    config = config.model_copy(update={"run_dir": run_dir})
    if isinstance(inline.program, ChatProgram):
        config = program_fields(config, inline.program)
    if examples is not None:
        fields = [f.strip() for f in config.input_field.split(",")] + [config.target_field]
        rows = [_row(i, ex, fields) for i, ex in enumerate(_as_list(examples))]
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / EXAMPLES_FILE
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        config = config.model_copy(update={"task": str(path)})
    if config.program:
        program = inline.program or load_program(config.program, run_dir)
        if isinstance(program, ChatProgram) and inline.program is None:
            config = program_fields(config, program)
        register_program(run_dir, program)
        update: dict[str, Any] = {"edit_format": False}
        starts = config.prompt is None and config.prompt_file is None and config.start == "manual"
        if starts and isinstance(program, ConfigurableProgram):  # one section per prompt
            run_dir.mkdir(parents=True, exist_ok=True)
            path = run_dir / PROGRAM_PROMPTS
            path.write_text(program.start_prompt().to_markdown(), encoding="utf-8")
            update.update(start="template", prompt_file=path)
        elif starts and isinstance(program, ChatProgram) and program.system_text:
            update["prompt"] = program.system_text
        config = config.model_copy(update=update)
    if fn is not None:
        attach_metric(config, fn)
    return config


def program_fields(config: OptimizeConfig, program: ChatProgram) -> OptimizeConfig:
    """Read the fields a chat program's template variables need as the run's inputs.

    Raises:
        ConfigError: ``input_field`` was given and lacks one of them.
    """
    needed = program.example_fields()
    given = [f.strip() for f in config.input_field.split(",")]
    if not needed or given == needed:
        return config
    if config.input_field != "input" and not set(needed) <= set(given):
        missing = sorted(set(needed) - set(given))
        raise ConfigError(
            f"the program's template reads the fields {needed}; input_field lacks {missing}",
            field="input_field",
            fix=f"pass input_field={','.join(needed)} (or map the variables with "
            "ChatProgram(chain, fields={...}))",
        )
    return config.model_copy(update={"input_field": ",".join(needed)})


def attach_metric(config: OptimizeConfig, fn: Callable[..., Any]) -> None:
    """Check ``fn`` on the task's first training example and register it for the run.

    Raises:
        TypeError, ValueError: ``fn`` is no metric (the message says the fix).
        ConfigError: The run was started with another metric.
    """
    if config.metric != metric_name(fn):
        raise ConfigError(
            f"the run's metric is {config.metric!r}, not {metric_name(fn)!r}",
            where=str(config.run_dir),
            field="metric",
            fix="pass the function the run was started with",
        )
    task = data_task(config)
    train = task.splits.get("train") or [e for s in task.splits.values() for e in s]
    register_metric(str(config.run_dir), as_metric(fn, train[0] if train else None))


def attach_resume(config: OptimizeConfig, fn: Callable[..., Any] | None, program: Any) -> None:
    """Register the metric and program a resumed run needs, or fail naming the field.

    Raises:
        ConfigError: The run's metric (or program) is a Python object not given again.
    """
    if program is not None:
        register_program(str(config.run_dir), as_program(program))
    elif config.program:  # module:attr imports again; python: must be registered already
        run_dir = str(config.run_dir)
        register_program(run_dir, load_program(config.program, run_dir))
    if fn is not None:
        attach_metric(config, fn)
    elif (config.metric or "").startswith(PYTHON_PREFIX):
        registered_metric(str(config.run_dir), str(config.metric))


def _as_list(examples: Any) -> list[Any]:
    if isinstance(examples, str | bytes | Mapping) or not hasattr(examples, "__iter__"):
        raise DataError("examples= must be a list of examples", field="examples", fix=_FIX)
    rows = list(examples)
    if not rows:
        raise DataError("examples= is empty", field="examples", fix=_FIX)
    return rows


def _row(i: int, ex: Any, fields: list[str]) -> dict[str, Any]:
    if isinstance(ex, Example):
        data = asdict(ex)
        return {k: v for k, v in data.items() if v not in ((), None, "")}
    if not isinstance(ex, Mapping):
        raise DataError(f"example {i} is a {type(ex).__name__}", field=f"examples[{i}]", fix=_FIX)
    for key in fields:
        if key not in ex:
            have = ", ".join(repr(k) for k in ex) or "none"
            raise DataError(
                f"example {i} has no {key!r}; its fields are {have}",
                field=f"examples[{i}].{key}",
                fix=_FIX + ", or name your fields with input_field=/target_field=",
            )
    return dict(ex)
