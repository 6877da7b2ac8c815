"""Run, resume and stream an optimization: ``optimize``, ``aoptimize``, ``aresume``.

With ``approve`` on, the run pauses at each new best prompt: ``on_review`` (called with
the review request, returning the decision) answers inline; without it the call returns
``{"paused": True, "review": <request>, "run_dir": ...}`` and ``aresume(run_dir,
decision=...)`` continues (see :mod:`flowpo.run.approval` for the decisions).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, cast

from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl
from langgraph.types import Command

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, DataError, ModelError, RunStopped
from flowpo.graphs.optimizer import build
from flowpo.metrics.judge import check_judge
from flowpo.run.baseline import resume_baseline, run_baseline
from flowpo.run.inline import attach_inline, attach_resume, take_inline
from flowpo.run.outputs import close_run
from flowpo.run.result import OptimizeResult
from flowpo.run.rundir import CHECKPOINTS
from flowpo.run.settings import load_config, prepare
from flowpo.run.tracing import (
    GRAPH_RUN_NAME,
    RunCollector,
    flush_live,
    live_tracers,
    run_metadata,
)

Listener = Callable[[dict[str, Any]], None]
Reviewer = Callable[[dict[str, Any]], Any]
"""Called with a review request (``approve`` on); returns the decision."""
THREAD = {"configurable": {"thread_id": "run"}, "recursion_limit": 100_000}  # SQLite runs


async def aoptimize(
    config: OptimizeConfig | None = None,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
    on_review: Reviewer | None = None,
    **overrides: Any,
) -> OptimizeResult:
    """Optimize a prompt; return the final result (also written to the run directory).

    A graph method runs the LangGraph loop; a baseline (``opro``, ...) runs
    :func:`flowpo.run.baseline.run_baseline` into the same kind of run directory.

    Args:
        config: The run configuration; keyword overrides build or amend it.
        on_event: Called with every progress event (``{"event": "epoch", ...}``).
        control: ``control.request_drain()`` stops the run after the step in progress
            (its checkpoint saved): see :func:`drain_on_sigint`.
        on_review: With ``approve`` on, answers each review request (else the run pauses).
        **overrides: Any :class:`OptimizeConfig` field, e.g. ``task="sst2"``; also
            ``examples=[{"input": ..., "target": ..., "split": ...}, ...]`` (instead of a
            task) and ``metric=<callable>`` (see :mod:`flowpo.run.inline`).

    Returns:
        The result dict (``result["final"]["test"]``) with ``.prompt``, ``.scores``,
        ``.costs`` and ``.run_dir`` (:class:`~flowpo.run.result.OptimizeResult`).

    Raises:
        RunStopped: A drain was requested; ``flowpo resume`` continues the run.
        ModelError: A model failed for good (retries spent); the run is resumable too.
    """
    inline = take_inline(overrides)
    if config is None:
        config = cast(OptimizeConfig, make_config(OptimizeConfig, **overrides))
    elif overrides:
        config = config.model_copy(update=overrides)
    check_judge(config.metric, config.rubric)  # before any run directory is made
    config = prepare(attach_inline(config, inline))
    if not config.method_spec.graph:  # a baseline: a budgeted search, no graph
        return OptimizeResult(await run_baseline(config, on_event=on_event, control=control))
    run_dir = Path(str(config.run_dir))
    if (run_dir / CHECKPOINTS).exists():
        raise ConfigError(
            "the run directory already holds a run",
            where=str(run_dir),
            field="run_dir",
            fix=f"continue it with 'flowpo resume {run_dir}'",
        )
    return OptimizeResult(await _stream(config, {}, on_event, control, on_review))


async def aresume(
    run_dir: str | Path,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
    on_review: Reviewer | None = None,
    decision: Any = None,
    metric: Callable[..., Any] | None = None,
    program: Any = None,
) -> OptimizeResult:
    """Continue a stopped, killed or paused run from its last checkpoint.

    Args:
        run_dir: The run directory.
        on_event: Called with every progress event.
        control: Stops the run after the step in progress (see :func:`drain_on_sigint`).
        on_review: Answers review requests (``approve`` on).
        decision: The answer to the review the run is paused at, if any.
        metric: The run's Python metric, when it was started with ``metric=<callable>``
            (``config.yaml`` cannot hold a function; without it the resume stops with a
            ``ConfigError`` naming the field ``metric``).
        program: The run's chain, when it was started with ``program=<chain>`` (the same
            rule as ``metric``; the field is ``program``).
    """
    config = load_config(Path(run_dir))
    attach_resume(config, metric, program)  # a Python metric or program given again
    if not config.method_spec.graph:  # a baseline keeps no checkpoint
        return OptimizeResult(await resume_baseline(config, on_event=on_event, control=control))
    if config.checkpointer is None and not (Path(run_dir) / CHECKPOINTS).is_file():
        raise DataError(
            "the run has no checkpoint yet",
            where=str(run_dir),
            fix="start it again with 'flowpo optimize'",
        )
    return OptimizeResult(await _stream(config, None, on_event, control, on_review, decision))


async def _stream(
    config: OptimizeConfig,
    inputs: dict[str, Any] | None,
    on_event: Listener | None,
    control: RunControl | None = None,
    on_review: Reviewer | None = None,
    decision: Any = None,
) -> dict[str, Any]:
    from flowpo.run.checkpoints import open_saver, thread_for
    from flowpo.scale.preflight import preflight

    await preflight(config)  # bad endpoints, Ray addresses, Postgres URLs fail before work
    thread = thread_for(config)
    async with open_saver(config) as saver:
        graph = build(saver)
        start = await _start(graph, saver, thread, config, inputs, on_review, decision)
        if isinstance(start, dict):
            return start  # finished already, or paused for a review
        payload = start.payload
        collector, live = RunCollector(), live_tracers()
        traced = {
            **thread,
            "callbacks": [collector, *live],
            "run_name": GRAPH_RUN_NAME,
            "metadata": run_metadata(config),
        }
        try:
            while True:
                await _pass(graph, payload, traced, config, on_event, control)
                snapshot = await graph.aget_state(thread)
                if not snapshot.interrupts:
                    break
                if on_review is None:
                    return _paused(config, snapshot.interrupts[0].value)
                payload = Command(resume=on_review(snapshot.interrupts[0].value))
        finally:  # also when the run fails or stops: the trace shows where
            close_run(Path(str(config.run_dir)), collector)
            flush_live(live)
    result = snapshot.values.get("result")
    if not result:
        raise RuntimeError("the run ended without a result")
    return {**result, "run_dir": str(config.run_dir)}


@dataclass
class _Start:
    payload: Any


async def _start(
    graph: Any,
    saver: Any,
    thread: dict[str, Any],
    config: OptimizeConfig,
    inputs: dict[str, Any] | None,
    on_review: Reviewer | None,
    decision: Any,
) -> _Start | dict[str, Any]:
    """Return what to stream first: the inputs of a new run, or how a stopped one resumes.

    A finished run returns its result, a run paused for review without an answer returns
    the pause, instead of a payload.
    """
    from flowpo.run.checkpoints import has_checkpoint

    started = await has_checkpoint(saver, thread)
    if inputs is not None:
        if started:
            raise ConfigError(
                "the checkpointer already holds a run for this run directory",
                where=str(config.run_dir),
                field="run_dir",
                fix=_resume_hint(config),
            )
        return _Start(inputs)
    if not started:
        raise DataError(
            "the run has no checkpoint yet",
            where=f"{config.run_dir} ({config.checkpointer or 'sqlite'})",
            fix="start it again with 'flowpo optimize'",
        )
    snapshot = await graph.aget_state(thread)
    if not snapshot.next and snapshot.values.get("result"):
        return {**snapshot.values["result"], "run_dir": str(config.run_dir)}  # finished already
    if snapshot.interrupts and decision is None and on_review is not None:
        decision = on_review(snapshot.interrupts[0].value)
    if snapshot.interrupts and decision is not None:
        return _Start(Command(resume=decision))
    if snapshot.interrupts:
        return _paused(config, snapshot.interrupts[0].value)
    return _Start(None)


def _resume_hint(config: OptimizeConfig) -> str:
    return f"continue it with 'flowpo resume {config.run_dir}'"


async def _pass(
    graph: Any,
    payload: Any,
    thread: Any,  # the run's config: thread id plus tracing callbacks
    config: OptimizeConfig,
    on_event: Listener | None,
    control: RunControl | None,
) -> None:
    """Stream the graph until it ends, pauses or stops; turn stops into clear errors."""
    try:
        async for event in graph.astream(
            payload, thread, context=config, stream_mode="custom", control=control
        ):
            if on_event is not None:
                on_event(event)
    except GraphDrained:
        snapshot = await graph.aget_state({"configurable": thread["configurable"]})
        raise RunStopped(
            f"stopped on request after epoch {snapshot.values.get('epoch', 0)}, "
            f"before node {', '.join(snapshot.next) or '(none)'}; every finished step "
            "and every scored example is saved",
            where=str(config.run_dir),
            fix=_resume_hint(config),
        ) from None
    except ModelError as e:
        raise ModelError(
            f"{e.what}; the run stopped, its last checkpoint and every scored example are saved",
            where=e.where,
            field=e.field,
            fix=f"{e.fix.rstrip('.') + ', then ' if e.fix else ''}{_resume_hint(config)}",
        ) from e


def _paused(config: OptimizeConfig, request: dict[str, Any]) -> dict[str, Any]:
    return {"paused": True, "review": request, "run_dir": str(config.run_dir)}


def optimize(
    config: OptimizeConfig | None = None,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
    on_review: Reviewer | None = None,
    **overrides: Any,
) -> OptimizeResult:
    """Optimize a prompt (sync wrapper of :func:`aoptimize`)."""
    return asyncio.run(
        aoptimize(config, on_event=on_event, control=control, on_review=on_review, **overrides)
    )


def resume(
    run_dir: str | Path,
    *,
    on_event: Listener | None = None,
    control: RunControl | None = None,
    on_review: Reviewer | None = None,
    decision: Any = None,
    metric: Callable[..., Any] | None = None,
    program: Any = None,
) -> OptimizeResult:
    """Resume a run (sync wrapper of :func:`aresume`)."""
    return asyncio.run(
        aresume(
            run_dir,
            on_event=on_event,
            control=control,
            on_review=on_review,
            decision=decision,
            metric=metric,
            program=program,
        )
    )


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
