"""Run, resume and stream an optimization: ``optimize``, ``aoptimize``, ``aresume``."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, DataError
from flowpo.graphs.optimizer import build
from flowpo.reporting.html import write_report
from flowpo.rundir import CHECKPOINTS, load_config, prepare
from flowpo.tracing import GRAPH_RUN_NAME, RunCollector, live_tracers, write_trace

Listener = Callable[[dict[str, Any]], None]
THREAD = {"configurable": {"thread_id": "run"}, "recursion_limit": 100_000}


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
    if not (Path(run_dir) / CHECKPOINTS).is_file():
        raise DataError(
            "the run has no checkpoint yet",
            where=str(run_dir),
            fix="start it again with 'flowpo optimize'",
        )
    return await _stream(config, None, on_event)


async def _stream(
    config: OptimizeConfig, inputs: dict[str, Any] | None, on_event: Listener | None
) -> dict[str, Any]:
    path = str(Path(str(config.run_dir)) / CHECKPOINTS)
    try:
        async with AsyncSqliteSaver.from_conn_string(path) as saver:
            graph = build(saver)
            if inputs is None:
                snapshot = await graph.aget_state(THREAD)
                if not snapshot.next and snapshot.values.get("result"):
                    return dict(snapshot.values["result"])  # finished already
            collector = RunCollector()
            traced = {
                **THREAD,
                "callbacks": [collector, *live_tracers()],
                "run_name": GRAPH_RUN_NAME,
                "metadata": {"run_dir": str(config.run_dir), "task": config.task},
            }
            try:
                async for event in graph.astream(
                    inputs, traced, context=config, stream_mode="custom"
                ):
                    if on_event is not None:
                        on_event(event)
            finally:
                if collector.roots:  # also when the run fails: the trace shows where
                    write_trace(Path(str(config.run_dir)), collector)
                    write_report(Path(str(config.run_dir)))  # now with the trace's summary
            snapshot = await graph.aget_state(THREAD)
    except sqlite3.DatabaseError as e:
        raise DataError(
            f"the checkpoint database is damaged ({e})",
            where=path,
            fix="start a new run; the evaluation cache in the run directory still "
            "makes already-scored prompts free",
        ) from None
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
