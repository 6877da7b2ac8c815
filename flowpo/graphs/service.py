"""The public flowpo graph: a request in, an optimized prompt out (served, or mounted).

    START -> prepare -> optimize -> END

``prepare`` checks the request (:mod:`flowpo.run.requests`) and creates the run directory;
``optimize`` runs the optimizer graph (:mod:`flowpo.graphs.optimizer`) as a subgraph with
the checked configuration as its context, forwarding its progress events, so interrupts
(human approval), checkpoints and ``stream_mode="custom"`` all pass through. A baseline
method (``opro``, ...) runs :func:`flowpo.run.baseline.run_baseline` in its place.

:func:`create_graph` is the factory (mount its result in your own ``StateGraph``, or pass
``checkpointer=``); ``graph`` is the instance ``langgraph.json`` serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from flowpo.config import OptimizeConfig
from flowpo.graphs.optimizer import graph as optimizer_graph
from flowpo.run.outputs import close_run
from flowpo.run.requests import INPUT_KEYS, Roots, prepare_request
from flowpo.run.rundir import BEST_MD

MIN_RECURSION_LIMIT = 100_000


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


def create_builder(
    defaults: OptimizeConfig | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    runs_dir: str | Path | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """Return the flowpo graph's builder (uncompiled), e.g. to add your own nodes.

    Args:
        defaults: Run settings used unless the context or the request overrides them.
        data_dir: Where request data files may be (default: ``$FLOWPO_SERVE_DATA_DIR``
            or the working directory).
        runs_dir: Where run directories go (default: ``$FLOWPO_SERVE_RUNS_DIR`` or runs/).
    """
    base = (
        defaults.model_dump(exclude_unset=True)
        if isinstance(defaults, OptimizeConfig)
        else dict(defaults or {})
    )
    env = Roots.from_env()
    roots = Roots(
        Path(data_dir).resolve() if data_dir else env.data,
        Path(runs_dir).resolve() if runs_dir else env.runs,
    )

    async def prepare(state: FlowpoState, runtime: Runtime[OptimizeConfig]) -> dict[str, Any]:
        """Check the request, make the run directory, load the task once."""
        request = {k: v for k, v in state.items() if k in INPUT_KEYS and v is not None}
        context = runtime.context if isinstance(runtime.context, OptimizeConfig) else None
        config = prepare_request(request, context, defaults=base, roots=roots)
        # Clear the request so the next run on this thread sees only its own input.
        return {
            **dict.fromkeys(INPUT_KEYS),
            "settings": config.model_dump(mode="json"),
            "run_dir": str(config.run_dir),
        }

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        FlowpoState,
        context_schema=OptimizeConfig,
        input_schema=FlowpoInput,
        output_schema=FlowpoOutput,
    )
    builder.add_node("prepare", prepare)
    builder.add_node("optimize", optimize)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "optimize")
    builder.add_edge("optimize", END)
    return builder


def create_graph(
    defaults: OptimizeConfig | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    runs_dir: str | Path | None = None,
    checkpointer: Any = None,
) -> Any:
    """Return the flowpo graph compiled: run it, mount it as a subgraph, or serve it.

    Args:
        defaults: Run settings used unless the context or the request overrides them.
        data_dir: Where request data files may be (see :func:`create_builder`).
        runs_dir: Where run directories go.
        checkpointer: A LangGraph checkpointer; ``None`` inherits a parent graph's (a
            pause for approval needs one somewhere).
    """
    builder = create_builder(defaults, data_dir=data_dir, runs_dir=runs_dir)
    return builder.compile(checkpointer=checkpointer, name="flowpo")


async def optimize(state: FlowpoState, config: RunnableConfig) -> dict[str, Any]:
    """Run the optimizer graph on the checked settings; return its result and best prompt."""
    settings = OptimizeConfig(**state["settings"])
    writer = get_stream_writer()
    best = Path(state["run_dir"]) / BEST_MD
    if not settings.method_spec.graph:  # a baseline: a budgeted search, no subgraph
        from flowpo.run.baseline import run_baseline

        result = await run_baseline(settings, on_event=writer)
        return {"result": result, "best_prompt": best.read_text(encoding="utf-8")}
    limit = max(int(config.get("recursion_limit") or 0), MIN_RECURSION_LIMIT)
    values: dict[str, Any] = {}
    stream: Any = optimizer_graph.astream(
        {},
        {**config, "recursion_limit": limit},
        context=settings,
        stream_mode=["custom", "values"],
    )
    async for mode, chunk in stream:
        if mode == "custom":
            writer(chunk)
        else:
            values = chunk
    close_run(Path(state["run_dir"]))
    return {
        "result": {**values.get("result", {}), "run_dir": state["run_dir"]},
        "best_prompt": best.read_text(encoding="utf-8") if best.is_file() else "",
    }


graph = create_graph()
"""The graph ``langgraph.json`` serves (the server supplies the checkpointer)."""
