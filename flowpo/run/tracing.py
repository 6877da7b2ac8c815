"""Traces: every node and model call is a LangChain run; the run tree goes to ``trace.json``.

LangGraph already opens one run per node execution (named after the node) and chat
models open one per call; :func:`span` adds runs for work that has no LangChain hook
(an operator application, a target-model scoring batch). :class:`RunCollector` keeps the
run tree of one invocation in memory and :func:`write_trace` appends it to the run
directory's ``trace.json`` (a resumed run appends). With ``LANGSMITH_TRACING=true`` the
same runs also go live to LangSmith or any compatible endpoint (``LANGSMITH_ENDPOINT``),
or to OpenTelemetry (``LANGSMITH_TRACING_MODE=otel``, e.g. Arize Phoenix). Graph states
are condensed by :func:`summarize` (scores, actions, diffs) before they are stored or sent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks.base import BaseCallbackHandler
from langchain_core.runnables.config import (
    ensure_config,
    get_async_callback_manager_for_config,
    patch_config,
    var_child_runnable_config,
)
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from flowpo.errors import ConfigError, DataError

TRACE_FORMAT = "flowpo-trace/1"
GRAPH_RUN_NAME = "flowpo"
MAX_TEXT = 2000
MAX_ITEMS = 40
STATE_KEYS = {"beam", "pending", "best", "plan", "last_actions", "q", "history", "result"}
"""Keys that mark a dict as (part of) the optimizer's graph state."""
RUN_KEYS = ("task", "model", "operator_model", "method", "seed", "budget", "run_dir")
"""What the root run of a trace carries: which run this is (see :func:`run_metadata`)."""
METADATA_KEYS = (
    "langgraph_node", "langgraph_step", "ls_model_name", "ls_provider", "epoch", *RUN_KEYS
)  # fmt: skip


def run_metadata(config: Any) -> dict[str, Any]:
    """Return the root run's metadata: task, models, method, seed, budget, run directory.

    Args:
        config: The run's :class:`~flowpo.config.OptimizeConfig`.
    """
    budget = {
        "max_epochs": config.max_epochs,
        "examples": config.budget_examples,
        "llm_calls": config.budget_llm_calls,
        "seconds": config.budget_seconds,
    }
    return {
        "task": config.task,
        "model": config.model,
        "operator_model": config.operator_model or config.model,
        "method": config.method,
        "seed": config.seed,
        "budget": budget,
        "run_dir": str(config.run_dir),
    }


@dataclass
class Span:
    """An open run: set ``outputs`` before the block ends."""

    run_id: uuid.UUID | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@asynccontextmanager
async def span(
    name: str, inputs: dict[str, Any], *, run_type: str = "chain"
) -> AsyncIterator[Span]:
    """Trace the block as a child run of the current node (a no-op when nobody listens).

    Model calls made inside the block nest under it, because the block's run becomes
    the parent that LangChain reads from the context.
    """
    config = ensure_config()
    manager = get_async_callback_manager_for_config(config)
    if not manager.handlers:
        yield Span()
        return
    run = await manager.on_chain_start(
        None, clip(inputs), name=name, run_type=run_type, run_id=uuid.uuid4()
    )
    token = var_child_runnable_config.set(patch_config(config, callbacks=run.get_child()))
    out = Span(run.run_id)
    try:
        yield out
    except BaseException as e:
        await run.on_chain_error(e)
        raise
    else:
        await run.on_chain_end(clip(out.outputs))
    finally:
        var_child_runnable_config.reset(token)


class RunCollector(BaseTracer):
    """Keep every finished run tree of an invocation (LangSmith's ``Run`` records)."""

    run_inline = True

    def __init__(self) -> None:
        """Start with no run (chat model runs keep their messages)."""
        super().__init__(_schema_format="original+chat")
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)

    def records(self) -> list[dict[str, Any]]:
        """Return the runs, parents first, as JSON-ready LangSmith run dicts."""
        return [to_record(r) for root in self.roots for r in _walk(root)]


def _walk(run: Run) -> Iterator[Run]:
    yield run
    for child in sorted(run.child_runs, key=lambda r: r.dotted_order or ""):
        yield from _walk(child)


def to_record(run: Run) -> dict[str, Any]:
    """Return one run as a LangSmith ``create_run`` payload with condensed inputs/outputs."""
    metadata = (run.extra or {}).get("metadata", {})
    inputs = run.inputs or {}
    if run.parent_run_id is None and not inputs:  # the graph's root: say which run it is
        inputs = {k: metadata[k] for k in RUN_KEYS if k in metadata}
    return {
        "id": str(run.id),
        "trace_id": str(run.trace_id),
        "parent_run_id": str(run.parent_run_id) if run.parent_run_id else None,
        "dotted_order": run.dotted_order,
        "name": run.name,
        "run_type": run.run_type,
        "start_time": _iso(run.start_time),
        "end_time": _iso(run.end_time),
        "inputs": summarize(jsonable(inputs)),
        "outputs": summarize(jsonable(run.outputs or {})),
        "error": run.error,
        "tags": list(run.tags or []),
        "extra": {"metadata": {k: jsonable(metadata[k]) for k in METADATA_KEYS if k in metadata}},
    }


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def jsonable(value: Any) -> Any:
    """Turn messages, pydantic models, ids and dates into plain JSON values."""
    if isinstance(value, dict):
        if value.get("lc") == 1 and isinstance(value.get("kwargs"), dict) and "id" in value:
            return _message(value)
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, uuid.UUID | dt.datetime | Path):
        return str(value)
    content = getattr(value, "content", None)
    if content is not None and hasattr(value, "type"):  # a LangChain message
        return {"type": value.type, "content": jsonable(content)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return jsonable(dump())
    return str(value)


def _message(lc: dict[str, Any]) -> Any:
    """Shorten a LangChain-serialised object; a message becomes ``{type, content}``."""
    kind = str(lc["id"][-1]) if lc["id"] else ""
    kwargs = lc["kwargs"]
    if kind.endswith("Message") and "content" in kwargs:
        role = kwargs.get("type") or kind.removesuffix("MessageChunk").removesuffix("Message")
        return {"type": str(role).lower(), "content": jsonable(kwargs["content"])}
    return {"type": kind, **{str(k): jsonable(v) for k, v in kwargs.items()}}


def clip(value: Any) -> Any:
    """Shorten long texts and lists so no run carries a dataset."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + f"… [{len(value)} chars]"
    if isinstance(value, dict):
        return {k: clip(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        head = [clip(v) for v in list(value)[:MAX_ITEMS]]
        return head + ([f"… [{len(value)} items]"] if len(value) > MAX_ITEMS else [])
    return value


def _cand(c: dict[str, Any] | None) -> dict[str, Any] | None:
    if not c:
        return None
    keep = ("id", "parent_id", "action", "train_score", "val_score", "epoch")
    return {k: c.get(k) for k in keep if c.get(k) is not None}


def _q_top(q: dict[str, Any], n: int = 8) -> list[list[Any]]:
    cells = [
        [s, op, round(float(v), 5)]
        for s, row in q.get("values", {}).items()
        for op, v in row.items()
    ]
    return sorted(cells, key=lambda c: -c[2])[:n]


def summarize(value: Any) -> Any:
    """Condense a graph state (or a node's update) to what a trace reader needs.

    Candidates keep their id, parent, action and scores (not their full prompt); actions
    keep their outcome and prompt diff; the Q table keeps its top cells; lists that only
    grow (``seen``, ``archive``) become counts. Anything else is clipped.
    """
    if not (isinstance(value, dict) and STATE_KEYS & value.keys()):
        return clip(value)
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key in ("beam", "pending"):
            out[key] = [_cand(c) for c in v or []]
        elif key in ("best", "initial"):
            out[key] = _cand(v)
        elif key in ("seen", "archive"):
            out[f"{key}_count"] = len(v or [])
        elif key == "q" and isinstance(v, dict):
            out["q_top"] = _q_top(v)
        elif key == "history":
            out["history"] = [{k: x for k, x in r.items() if k != "q"} for r in (v or [])[-1:]]
            out["history_rows"] = len(v or [])
        elif key == "reflection" and isinstance(v, dict):
            out[key] = {k: v[k] for k in ("for_id", "summary", "reasons") if k in v}
        else:
            out[key] = v
    return clip(out)


def trace_path(run_dir: Path) -> Path:
    """Return ``<run_dir>/trace.json``."""
    from flowpo.run.rundir import TRACE

    return Path(run_dir) / TRACE


def read_trace(run_dir: Path) -> list[dict[str, Any]]:
    """Return the runs recorded in a run directory's ``trace.json`` (empty if none)."""
    path = trace_path(run_dir)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data["runs"])
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"trace.json does not load ({e})", where=str(path), fix="delete it; runs rewrite it"
        ) from None


def write_trace(run_dir: Path, collector: RunCollector) -> Path:
    """Append the collector's runs to ``trace.json`` (a resumed run adds its own)."""
    from flowpo.run.rundir import write_atomic

    runs = [*read_trace(run_dir), *collector.records()]
    path = trace_path(run_dir)
    payload = {"format": TRACE_FORMAT, "runs": runs}
    write_atomic(path, json.dumps(payload, ensure_ascii=False, indent=1))
    return path


def live_tracers() -> list[BaseCallbackHandler]:
    """Return a LangSmith tracer when ``LANGSMITH_TRACING`` is on (states condensed)."""
    from langsmith import utils

    if not utils.tracing_is_enabled():
        return []
    from langchain_core.tracers.langchain import LangChainTracer
    from langsmith import Client

    client = Client(hide_inputs=summarize, hide_outputs=summarize)
    return [LangChainTracer(client=client, project_name=project_name())]


def flush_live(tracers: list[BaseCallbackHandler]) -> None:
    """Send what live tracers still hold before the run returns (their queues drain).

    LangSmith's client posts runs from a background thread in batches; without this a
    short process can exit before the last batch (the graph's root run) is sent.
    """
    for tracer in tracers:
        wait = getattr(tracer, "wait_for_futures", None)
        if callable(wait):
            wait()
        client = getattr(tracer, "client", None)
        flush = getattr(client, "flush", None)
        if callable(flush):
            flush()


def _first_line(e: Exception) -> str:
    return f"{e.__class__.__name__}: {(str(e).splitlines() or [''])[0][:200]}"


def project_name() -> str:
    """Return the LangSmith project (``LANGSMITH_PROJECT``, default ``flowpo``)."""
    return os.environ.get("LANGSMITH_PROJECT") or os.environ.get("LANGCHAIN_PROJECT") or "flowpo"


def endpoint_settings() -> tuple[str | None, str | None]:
    """Return ``(LANGSMITH_ENDPOINT, LANGSMITH_API_KEY)``; raise if neither is set."""
    url = os.environ.get("LANGSMITH_ENDPOINT") or os.environ.get("LANGCHAIN_ENDPOINT")
    key = os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY")
    if not url and not key:
        raise ConfigError(
            "no trace endpoint is configured",
            field="LANGSMITH_ENDPOINT",
            fix="export LANGSMITH_API_KEY=... (LangSmith) or LANGSMITH_ENDPOINT=http://host:port "
            "(a LangSmith-compatible server), then run the upload again",
        )
    return url, key


def upload(run_dir: Path, *, project: str | None = None) -> int:
    """Post the runs of ``trace.json`` to the configured endpoint; return how many."""
    from langsmith import Client
    from langsmith.utils import LangSmithError

    runs = read_trace(run_dir)
    if not runs:
        raise DataError(
            "the run directory has no trace.json (or it is empty)",
            where=str(run_dir),
            fix="give a directory written by 'flowpo optimize' or 'flowpo resume'",
        )
    url, key = endpoint_settings()
    client = Client(api_url=url, api_key=key, auto_batch_tracing=False)
    name = project or project_name()
    for run in sorted(runs, key=lambda r: r.get("dotted_order") or ""):
        body = {k: v for k, v in run.items() if k not in ("name", "inputs", "run_type")}
        body["start_time"] = dt.datetime.fromisoformat(run["start_time"])
        if run.get("end_time"):
            body["end_time"] = dt.datetime.fromisoformat(run["end_time"])
        try:
            client.create_run(
                run["name"], run["inputs"], run["run_type"], project_name=name, **body
            )
        except LangSmithError as e:
            raise ConfigError(
                f"the trace endpoint refused or did not answer ({_first_line(e)})",
                where=url or "LangSmith",
                field="LANGSMITH_ENDPOINT",
                fix="check the endpoint URL and API key; runs already posted stay posted",
            ) from None
    return len(runs)
