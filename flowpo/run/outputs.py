"""What a finished (or stopped) run leaves: the chosen prompt, the history, trace and report.

Every way of running the graph ends here: the runner (CLI, Python API) and the public
service graph (server, ``create_graph``) call :func:`close_run` once, after the graph
stops, so ``report.html`` is written in one place and includes the trace when there is one.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from flowpo.prompt import Prompt
from flowpo.reporting.html import write_report
from flowpo.run.rundir import write_best, write_history
from flowpo.run.tracing import RunCollector, write_trace

log = logging.getLogger(__name__)


def write_result(
    run_dir: Path,
    chosen: Prompt,
    start: Prompt,
    result: dict[str, Any],
    chosen_id: str,
    history: list[dict[str, Any]],
    *,
    template: str,
    verbalizers: dict[str, str],
) -> None:
    """Write ``best_prompt.md``/``.json`` and ``history.jsonl`` ending with the summary row."""
    initial = replace(
        start,
        template=start.template or template,
        verbalizers={**verbalizers, **(start.verbalizers or {})},
    )
    info = {"id": chosen_id, **result, "initial_prompt": initial.to_dict()}
    write_best(run_dir, chosen, info, template, verbalizers)
    write_history(run_dir, [*history, {"summary": True, **result}])


def close_run(run_dir: Path, collector: RunCollector | None = None) -> None:
    """Write the run's trace (when collected) and its ``report.html``.

    A report bug must not lose the run's result: it is logged with the command that
    writes the report again.
    """
    if collector is not None and collector.roots:
        write_trace(run_dir, collector)
    try:
        write_report(run_dir)
    except Exception:  # noqa: BLE001
        log.exception("report.html could not be written; run 'flowpo report %s'", run_dir)
