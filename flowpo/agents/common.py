"""Helpers every node shares: timing, progress events, candidate building."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.runtime import Runtime

from flowpo.config import OptimizeConfig
from flowpo.evaluation.retrieval import retrieval_pool_size
from flowpo.prompt import Prompt
from flowpo.tasks.task import Task
from flowpo.types import Candidate


@contextmanager
def timed(update: dict[str, Any]) -> Iterator[None]:
    """Add the block's wall time to ``update['budget']['seconds']`` (a reducer delta)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        budget = update.setdefault("budget", {})
        budget["seconds"] = budget.get("seconds", 0.0) + time.perf_counter() - start


def emit(runtime: Runtime[OptimizeConfig], event: str, **data: Any) -> None:
    """Send a progress event to ``stream_mode="custom"`` listeners (CLI bar, server clients)."""
    writer = getattr(runtime, "stream_writer", None)
    if writer is not None:
        writer({"event": event, **data})


def new_candidate(
    prompt: Prompt,
    *,
    cid: str,
    epoch: int,
    parent_id: str | None = None,
    action: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Return a serialisable, not yet evaluated candidate."""
    return Candidate(cid, prompt.to_dict(), parent_id, action, epoch=epoch).to_dict()


def offered_retrieval(config: OptimizeConfig, task: Task) -> int:
    """Return the demonstrations a retrieving prompt may fetch in this run (0: none).

    Not for programs (they build their own messages), nor for data with no more than
    ``config.retrieve`` labelled examples to retrieve from.
    """
    if config.program is not None or retrieval_pool_size(task) <= config.retrieve:
        return 0
    return config.retrieve
