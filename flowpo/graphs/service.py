"""The public flowpo graph: a request in, an optimized prompt out (served, or mounted).

    START -> prepare -> optimize -> END
                           ^    | (paused for approval)
                           +- review

``prepare`` checks the request (:mod:`flowpo.run.requests`), creates the run directory and
writes its ``config.yaml`` (the CLI's writer, :func:`flowpo.run.settings.prepare`);
``optimize`` runs it exactly as the CLI does (:func:`flowpo.run.runner.aoptimize`, or
:func:`~flowpo.run.runner.aresume` when the run directory already holds checkpoints):
checkpoints in the run directory, ``history.jsonl``, ``trace.json`` and ``report.html``,
so ``flowpo resume <run_dir>`` and ``flowpo report <run_dir>`` work on a server's run.
Progress events are forwarded (``stream_mode="custom"``); a pause for human approval
becomes an interrupt of the ``review`` node, whose answer the next ``optimize`` passes on.
A baseline method (``opro``, ...) runs through the same runner, as from the CLI.

:func:`create_graph` is the factory (mount its result in your own ``StateGraph``, or pass
``checkpointer=``); ``graph`` is the instance ``langgraph.json`` serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from typing_extensions import TypedDict

from flowpo.config import OptimizeConfig
from flowpo.run.requests import (
    INPUT_KEYS,
    Roots,
    check_settings,
    parse_models,
    prepare_request,
)
from flowpo.run.rundir import BEST_MD, CHECKPOINTS
from flowpo.run.runner import aoptimize, aresume
from flowpo.run.settings import prepare as write_run_config


class FlowpoInput(TypedDict, total=False):
    """What a caller sends: a task, or inline examples, and optional run settings."""

    task: str
    """A built-in task name (see ``flowpo tasks``) or a JSONL/CSV file under the data dir."""
    examples: list[dict[str, Any]]
    """Inline examples, ``{"input": ..., "target": ...}`` (optional ``id``, ``split``)."""
    config: dict[str, Any]
    """Any ``OptimizeConfig`` field; overrides the context."""


class FlowpoOutput(TypedDict, total=False):
    """What a caller gets back."""

    run_dir: str
    result: dict[str, Any]
    """The run's summary: initial and final scores by split, budget, operator usage."""
    best_prompt: str
    """The chosen prompt as Markdown (the run directory's ``best_prompt.md``)."""


class FlowpoState(FlowpoInput, FlowpoOutput, total=False):
    """Input and output, plus the checked configuration."""

    settings: dict[str, Any]
    review: dict[str, Any] | None
    """The review request the run is paused at (``approve`` on)."""
    decision: dict[str, Any] | None
    """``{"value": <the answer>}`` to the review, for the next ``optimize``."""


def create_builder(
    defaults: OptimizeConfig | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    runs_dir: str | Path | None = None,
    models: str | list[str] | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """Return the flowpo graph's builder (uncompiled), e.g. to add your own nodes.

    Args:
        defaults: Run settings used unless the context or the request overrides them
            (trusted: its models, executor and checkpointer are the server's own).
        data_dir: Where request data files may be (default: ``$FLOWPO_SERVE_DATA_DIR``
            or the working directory).
        runs_dir: Where run directories go (default: ``$FLOWPO_SERVE_RUNS_DIR`` or runs/).
        models: Model specs a request or context may choose besides those of
            ``defaults`` (default: ``$FLOWPO_SERVE_MODELS`` or the embedded model).
    """
    base = (
        defaults.model_dump(exclude_unset=True)
        if isinstance(defaults, OptimizeConfig)
        else dict(defaults or {})
    )
    roots = _roots(data_dir, runs_dir, models)

    async def prepare(state: FlowpoState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
        """Check the request, make the run directory, load the task once."""
        request = {k: v for k, v in state.items() if k in INPUT_KEYS and v is not None}
        given = runtime.context
        context = given if isinstance(given, (OptimizeConfig, Mapping)) else None
        config = write_run_config(prepare_request(request, context, defaults=base, roots=roots))
        # Clear the request so the next run on this thread sees only its own input.
        return {
            **dict.fromkeys(INPUT_KEYS),
            "review": None,
            "decision": None,
            "settings": config.model_dump(mode="json"),
            "run_dir": str(config.run_dir),
        }

    async def checked_optimize(state: FlowpoState) -> dict[str, Any]:
        """Re-check the settings (a state update may have written them), then run."""
        check_settings(OptimizeConfig(**state["settings"]), defaults=base, roots=roots)
        return await optimize(state)

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        FlowpoState,
        context_schema=OptimizeConfig,
        input_schema=FlowpoInput,
        output_schema=FlowpoOutput,
    )
    builder.add_node("prepare", prepare)
    builder.add_node("optimize", checked_optimize)
    builder.add_node("review", review)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "optimize")
    builder.add_conditional_edges("optimize", _after_optimize, ["review", END])
    builder.add_edge("review", "optimize")
    return builder


def create_graph(
    defaults: OptimizeConfig | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    runs_dir: str | Path | None = None,
    models: str | list[str] | None = None,
    checkpointer: Any = None,
) -> Any:
    """Return the flowpo graph compiled: run it, mount it as a subgraph, or serve it.

    Args:
        defaults: Run settings used unless the context or the request overrides them.
        data_dir: Where request data files may be (see :func:`create_builder`).
        runs_dir: Where run directories go.
        models: Model specs a request may choose (see :func:`create_builder`).
        checkpointer: A LangGraph checkpointer; ``None`` inherits a parent graph's (a
            pause for approval needs one somewhere). The run itself is checkpointed in
            its run directory (or the configured Postgres), like a CLI run.
    """
    builder = create_builder(defaults, data_dir=data_dir, runs_dir=runs_dir, models=models)
    return builder.compile(checkpointer=checkpointer, name="flowpo")


async def optimize(state: FlowpoState) -> dict[str, Any]:
    """Run (or continue) the run as the CLI does; return its result, or the pending review."""
    settings = OptimizeConfig(**state["settings"])
    run_dir = Path(state["run_dir"])
    writer = get_stream_writer()
    decision = state.get("decision")
    if await _started(settings):
        value = decision["value"] if decision else None
        out = await aresume(run_dir, on_event=writer, decision=value)
    else:
        out = await aoptimize(settings, on_event=writer)
    if out.get("paused"):
        return {"review": out["review"], "decision": None}
    best = run_dir / BEST_MD
    return {
        "review": None,
        "decision": None,
        "result": {**out, "run_dir": str(run_dir)},
        "best_prompt": best.read_text(encoding="utf-8") if best.is_file() else "",
    }


def review(state: FlowpoState) -> dict[str, Any]:
    """Pause for the caller's answer to the review request (``Command(resume=...)``)."""
    return {"decision": {"value": interrupt(state["review"])}, "review": None}


def _roots(
    data_dir: str | Path | None, runs_dir: str | Path | None, models: str | list[str] | None
) -> Roots:
    """Return the request roots: the arguments given, else the environment's."""
    env = Roots.from_env()
    return Roots(
        Path(data_dir).resolve() if data_dir else env.data,
        Path(runs_dir).resolve() if runs_dir else env.runs,
        parse_models(",".join(models) if isinstance(models, list) else models)
        if models
        else env.models,
    )


def _after_optimize(state: FlowpoState) -> str:
    return "review" if state.get("review") else END


async def _started(config: OptimizeConfig) -> bool:
    """Return whether the run already has a checkpoint (a resumed or re-entered node)."""
    from flowpo.run.checkpoints import has_checkpoint, open_saver, thread_for

    if config.checkpointer is None and not (Path(str(config.run_dir)) / CHECKPOINTS).is_file():
        return False
    async with open_saver(config) as saver:
        return await has_checkpoint(saver, thread_for(config))


graph = create_graph()
"""The graph ``langgraph.json`` serves (the server supplies the checkpointer)."""
