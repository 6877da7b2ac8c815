"""CLI flags generated from the config objects' fields: real types, grouped ``--help``.

Each field becomes ``--field-name`` with a click type from its annotation (``INTEGER``,
``FLOAT``, ``BOOLEAN``, a path, or a choice); ``--help`` lists the flags under headings
(data, search, budget, models, GFlowPO, memory, output).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from pydantic_settings import BaseSettings

GROUPS: dict[str, tuple[str, ...]] = {
    "Data": (
        "task", "prompt", "prompt_file", "start", "split", "limit", "data_seed",
        "input_field", "target_field", "labels", "verbalizers", "metric", "template",
        "max_input_chars", "split_field", "rubric", "program",
    ),
    "Search": (
        "method", "optimizer", "selector", "sarsa_credit", "msgd_floor", "operators",
        "edit_format", "label_words", "screen_examples", "reward_examples", "mode", "seed",
        "beam_size", "annealing", "actions_per_epoch", "children_per_action", "alpha",
        "sarsa_alpha", "sarsa_gamma", "temperature", "epsilon", "soft_weight", "failure_penalty",
        "reflect_cases", "n_shots", "retrieve", "max_section_chars", "max_examples_chars",
        "approve",
    ),
    "Budget and stopping": (
        "max_epochs", "patience", "tol", "budget_examples", "budget_llm_calls",
        "budget_seconds", "evaluate_test", "track_dev",
    ),
    "Models": (
        "model", "operator_model", "device", "dtype", "batch_size", "max_new_tokens",
        "operator_max_tokens", "concurrency", "request_timeout", "max_retries",
        "retry_backoff", "executor", "ray_address", "ray_workers",
    ),
    "Memory": ("use_memory", "memory_dir", "memory_snapshot", "embedder"),
    "Output": ("run_dir", "output", "cache", "checkpointer", "quiet"),
}  # fmt: skip
"""Help headings and the fields under each; ``gfn_*`` fields go under GFlowPO."""


def group_of(name: str) -> str:
    """Return the ``--help`` heading of a config field (or of the ``quiet`` flag)."""
    if name.startswith("gfn_"):
        return "GFlowPO sampler"
    return next((g for g, names in GROUPS.items() if name in names), "Other")


def flag(name: str) -> str:
    """Return the command-line flag of a config field: ``max_epochs`` -> ``--max-epochs``."""
    return "--" + name.replace("_", "-")


def click_type(annotation: Any) -> Any:
    """Return the click type of a field annotation (``int | None`` -> ``INTEGER``)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)])
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return click_type(args[0])
    simple = {int: click.INT, float: click.FLOAT, bool: click.BOOL, str: click.STRING}
    if annotation in simple:
        return simple[annotation]
    if annotation is Path:
        return click.Path(path_type=Path)
    return click.STRING


def options_from(config_cls: type[BaseSettings]) -> Callable[[Callable[..., Any]], Any]:
    """Add one ``--flag`` per config field, typed, with the field's description as help.

    Every default is ``None`` so an unset flag falls through to the environment and then
    to the field's default (explicit > environment > default).
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        for name, field in reversed(list(config_cls.model_fields.items())):
            default = field.default if field.default is not None else "none"
            help_ = f"{field.description} [default: {default}]"
            fn = click.option(
                flag(name), name, type=click_type(field.annotation), default=None, help=help_
            )(fn)
        return fn

    return decorate


class GroupedCommand(click.Command):
    """A command whose ``--help`` lists its options under headings (see :data:`GROUPS`)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write one definition list per group, in the order of :data:`GROUPS`."""
        rows: dict[str, list[tuple[int, tuple[str, str]]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                heading = _heading(param)
                names = GROUPS.get(heading, ())
                rank = names.index(param.name) if param.name in names else len(names)
                rows.setdefault(heading, []).append((rank, record))
        for heading in _ordered(rows):
            with formatter.section(heading):
                formatter.write_dl([r for _, r in sorted(rows[heading], key=lambda x: x[0])])


def _heading(param: click.Parameter) -> str:
    name = param.name or ""
    if name in ("help", "version"):
        return "Other"
    return group_of(name)


def _ordered(rows: dict[str, Any]) -> Iterator[str]:
    order = [*GROUPS, "GFlowPO sampler", "Other"]
    yield from sorted(rows, key=lambda h: order.index(h) if h in order else len(order))
