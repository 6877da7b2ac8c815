"""Run, resume and stream an optimization: ``optimize``, ``aoptimize``, ``aresume``."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, cast

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, DataError, ModelError, RunStopped
from flowpo.graphs.optimizer import build
from flowpo.reporting.html import write_report
from flowpo.rundir import CHECKPOINTS, load_config, prepare
from flowpo.tracing import GRAPH_RUN_NAME, RunCollector, live_tracers, write_trace

Listener = Callable[[dict[str, Any]], None]
THREAD = {"configurable": {"thread_id": "run"}, "recursion_limit": 100_000}


async def aoptimize(
    config: OptimizeConfig | None = None,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Optimize a prompt; return the final result (also written to the run directory).

    Args:
        config: The run configuration; keyword overrides build or amend it.
        on_event: Called with every progress event (``{"event": "epoch", ...}``).
        control: ``control.request_drain()`` stops the run after the step in progress
            (its checkpoint saved): see :func:`drain_on_sigint`.
        **overrides: Any :class:`OptimizeConfig` field, e.g. ``task="sst2"``.

    Raises:
        RunStopped: A drain was requested; ``flowpo resume`` continues the run.
        ModelError: A model failed for good (retries spent); the run is resumable too.
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
    return await _stream(config, {}, on_event, control)


async def aresume(
    run_dir: str | Path, *, on_event: Listener | None = None, control: RunControl | None = None
) -> dict[str, Any]:
    """Continue a stopped or killed run from its last checkpoint (scored examples are cached)."""
    config = load_config(Path(run_dir))
    if not (Path(run_dir) / CHECKPOINTS).is_file():
        raise DataError(
            "the run has no checkpoint yet",
            where=str(run_dir),
            fix="start it again with 'flowpo optimize'",
        )
    return await _stream(config, None, on_event, control)


async def _stream(
    config: OptimizeConfig,
    inputs: dict[str, Any] | None,
    on_event: Listener | None,
    control: RunControl | None = None,
) -> dict[str, Any]:
    path = str(Path(str(config.run_dir)) / CHECKPOINTS)
    resume_hint = f"continue it with 'flowpo resume {config.run_dir}'"
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
                    inputs, traced, context=config, stream_mode="custom", control=control
                ):
                    if on_event is not None:
                        on_event(event)
            except GraphDrained:
                snapshot = await graph.aget_state(THREAD)
                raise RunStopped(
                    f"stopped on request after epoch {snapshot.values.get('epoch', 0)}, "
                    f"before node {', '.join(snapshot.next) or '(none)'}; every finished step "
                    "and every scored example is saved",
                    where=str(config.run_dir),
                    fix=resume_hint,
                ) from None
            except ModelError as e:
                raise ModelError(
                    f"{e.what}; the run stopped, its last checkpoint and every scored example "
                    "are saved",
                    where=e.where,
                    field=e.field,
                    fix=f"{e.fix.rstrip('.') + ', then ' if e.fix else ''}{resume_hint}",
                ) from e
            finally:
                if collector.roots:  # also when the run fails or stops: the trace shows where
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
    config: OptimizeConfig | None = None,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Optimize a prompt (sync wrapper of :func:`aoptimize`)."""
    return asyncio.run(aoptimize(config, on_event=on_event, control=control, **overrides))


def resume(
    run_dir: str | Path, *, on_event: Listener | None = None, control: RunControl | None = None
) -> dict[str, Any]:
    """Resume a run (sync wrapper of :func:`aresume`)."""
    return asyncio.run(aresume(run_dir, on_event=on_event, control=control))


@contextmanager
def drain_on_sigint(control: RunControl) -> Iterator[RunControl]:
    """Make the first Ctrl-C finish the step in progress and stop; the second stops at once.

    The first SIGINT asks ``control`` to drain: the graph finishes its running node,
    saves the checkpoint and raises, which the runner turns into :class:`RunStopped`.
    A second SIGINT raises ``KeyboardInterrupt`` (the step in flight is lost; the
    examples it scored are in the cache). Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield control
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if control.drain_requested:
            raise KeyboardInterrupt
        control.request_drain("SIGINT")
        print(
            "\nCtrl-C: finishing the current step, then saving a checkpoint "
            "(press Ctrl-C again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield control
    finally:
        signal.signal(signal.SIGINT, previous)
