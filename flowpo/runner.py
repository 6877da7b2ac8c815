"""Run, resume and stream an optimization: ``optimize``, ``aoptimize``, ``aresume``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, DataError
from flowpo.graphs.optimizer import build
from flowpo.rundir import CHECKPOINTS, load_config, prepare

Listener = Callable[[dict[str, Any]], None]
THREAD = {"configurable": {"thread_id": "run"}, "recursion_limit": 100_000}  # SQLite runs


async def aoptimize(
    config: OptimizeConfig | None = None, *, on_event: Listener | None = None, **overrides: Any
) -> dict[str, Any]:
    """Optimize a prompt; return the final result (also written to the run directory).

    Args:
        config: The run configuration; keyword overrides build or amend it.
        on_event: Called with every progress event (``{"event": "epoch", ...}``).
        **overrides: Any :class:`OptimizeConfig` field, e.g. ``task="sst2"``.
    """
    if config is None:
        config = cast(OptimizeConfig, make_config(OptimizeConfig, **overrides))
    elif overrides:
        config = config.model_copy(update=overrides)
    config = prepare(config)
    run_dir = Path(str(config.run_dir))
    if (run_dir / CHECKPOINTS).exists():
        raise ConfigError(
            "the run directory already holds a run",
            where=str(run_dir),
            field="run_dir",
            fix=f"continue it with 'flowpo resume {run_dir}'",
        )
    return await _stream(config, {}, on_event)


async def aresume(run_dir: str | Path, *, on_event: Listener | None = None) -> dict[str, Any]:
    """Continue a stopped or killed run from its last checkpoint (scored examples are cached)."""
    config = load_config(Path(run_dir))
    if config.checkpointer is None and not (Path(run_dir) / CHECKPOINTS).is_file():
        raise DataError(
            "the run has no checkpoint yet",
            where=str(run_dir),
            fix="start it again with 'flowpo optimize'",
        )
    return await _stream(config, None, on_event)


async def _stream(
    config: OptimizeConfig, inputs: dict[str, Any] | None, on_event: Listener | None
) -> dict[str, Any]:
    from flowpo.scale.checkpoint import has_checkpoint, open_saver, thread_for
    from flowpo.scale.preflight import preflight

    await preflight(config)  # bad endpoints, Ray addresses, Postgres URLs fail before work
    thread = thread_for(config)
    async with open_saver(config) as saver:
        graph = build(saver)
        started = await has_checkpoint(saver, thread)
        if inputs is None:
            if not started:
                raise DataError(
                    "the run has no checkpoint yet",
                    where=f"{config.run_dir} ({config.checkpointer or 'sqlite'})",
                    fix="start it again with 'flowpo optimize'",
                )
            snapshot = await graph.aget_state(thread)
            if not snapshot.next and snapshot.values.get("result"):
                return dict(snapshot.values["result"])  # finished already
        elif started:
            raise ConfigError(
                "the checkpointer already holds a run for this run directory",
                where=str(config.run_dir),
                field="run_dir",
                fix=f"continue it with 'flowpo resume {config.run_dir}'",
            )
        async for event in graph.astream(inputs, thread, context=config, stream_mode="custom"):
            if on_event is not None:
                on_event(event)
        snapshot = await graph.aget_state(thread)
    result = snapshot.values.get("result")
    if not result:
        raise RuntimeError("the run ended without a result")
    return {**result, "run_dir": str(config.run_dir)}


def optimize(
    config: OptimizeConfig | None = None, *, on_event: Listener | None = None, **overrides: Any
) -> dict[str, Any]:
    """Optimize a prompt (sync wrapper of :func:`aoptimize`)."""
    return asyncio.run(aoptimize(config, on_event=on_event, **overrides))


def resume(run_dir: str | Path, *, on_event: Listener | None = None) -> dict[str, Any]:
    """Resume a run (sync wrapper of :func:`aresume`)."""
    return asyncio.run(aresume(run_dir, on_event=on_event))
