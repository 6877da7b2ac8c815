"""What the CLI shows while it works: progress bars, model loading, warnings, the summary.

``--quiet`` hides the bars and the "loading model" line; warnings from flowpo (a data
file split, a repaired memory) print as one ``warning: ...`` line without source lines.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

import click

LOGGERS = ("flowpo.models",)
"""Loggers whose INFO lines ("loading model ...") the CLI shows unless ``--quiet``."""


class _BarSafeHandler(logging.Handler):
    """Write log lines above any progress bar (through ``tqdm.write``)."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def setup_output(quiet: bool) -> None:
    """Show flowpo's progress log lines (unless ``quiet``) and print warnings on one line."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _BarSafeHandler)]
        handler = _BarSafeHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING if quiet else logging.INFO)
        logger.propagate = False
    warnings.showwarning = _one_line_warning


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as ``warning: <message>`` (no file, line number or source line)."""
    from tqdm import tqdm

    tqdm.write(f"warning: {message}", file=file or sys.stderr)


class EvalBar:
    """The ``flowpo eval`` bar: drawn only once there are examples to score."""

    def __init__(self, task: str, quiet: bool) -> None:
        """Remember the label; draw nothing yet (an error prints no empty bar)."""
        self.task, self.quiet = task, quiet
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        """Move the bar to ``done`` of ``total`` examples."""
        if self.quiet or (self.bar is None and done >= total):
            return  # nothing to score (all cached): no bar at all
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="ex", file=sys.stderr, desc=self.task)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        """Close the bar if one was drawn."""
        if self.bar is not None:
            self.bar.close()


class Progress:
    """Render the graph's custom stream events: epochs, and candidates within an epoch."""

    def __init__(self, total: int, quiet: bool) -> None:
        """Open a bar of ``total`` epochs (disabled when ``quiet``)."""
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="epoch", disable=quiet, file=sys.stderr)
        self.best: float | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        """Update the bar from one event (``edited``, ``scored`` or ``epoch``)."""
        kind = event.get("event")
        if kind == "edited":
            self.bar.set_description_str(
                f"epoch {event.get('epoch', 0)}: edited {event.get('done', 0)}/"
                f"{event.get('planned', 0)} actions",
                refresh=True,
            )
        elif kind == "scored":
            self.bar.set_description_str(
                f"epoch {event.get('epoch', 0)}: scored {event.get('done', 0)}/"
                f"{event.get('planned', 0)} candidates",
                refresh=False,
            )
            self._postfix(event.get("budget", {}), [])
        elif kind == "epoch":
            self.bar.n = int(event.get("epoch", 0))
            self.best = event.get("best_train", self.best)
            self.bar.set_description_str(f"epoch {self.bar.n} done", refresh=False)
            self._postfix(event.get("budget", {}), list(event.get("actions", [])))

    def _postfix(self, budget: dict[str, Any], actions: list[str]) -> None:
        best = f"best train {self.best:.3f} | " if self.best is not None else ""
        last = f" | last: {', '.join(actions[:3])}" if actions else ""
        self.bar.set_postfix_str(
            f"{best}{int(budget.get('examples_scored', 0))} ex scored, "
            f"{int(budget.get('llm_calls', 0))} LLM calls{last}",
            refresh=True,
        )

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


def report(result: dict[str, Any]) -> None:
    """Print a finished run's summary: scores, budget, operators and where its files are."""
    from flowpo.run.rundir import BEST_MD, REPORT
    from flowpo.run.tracing import trace_path
    from flowpo.search.credit import usage_table

    init, final = result["initial"], result["final"]
    click.echo(f"stopped: {result.get('stop_reason')} after {result['epochs']} epochs")
    for split in ("train", "dev", "test"):
        if split in final:
            click.echo(
                f"{split:5}  initial {_num(init.get(split))}  ->  final {_num(final[split])}"
            )
    if result.get("scoring"):
        click.echo(f"scored through: {result['scoring']}")
    b = result["budget"]
    click.echo(
        f"budget: {int(b.get('examples_scored', 0))} train examples scored, "
        f"{int(b.get('examples_cached', 0))} served from cache, "
        f"{int(b.get('llm_calls', 0))} operator-LM calls, {b.get('seconds', 0):.0f} s"
    )
    click.echo(usage_table(result.get("operator_usage", {})))
    run_dir = Path(result["run_dir"])
    if "memory_read" in result:
        click.echo(
            f"memory: read {result['memory_read']} records (memory_read.json; repeat this "
            f"run with --memory-snapshot {run_dir})"
        )
    click.echo(f"best prompt: {run_dir / BEST_MD}")
    click.echo(f"report:      {run_dir / REPORT}")
    click.echo(f"trace:       {trace_path(run_dir)}")


def _num(value: Any) -> str:
    """Return a score with 4 decimals, or '-' for a prompt never scored on that split."""
    return f"{value:.4f}" if isinstance(value, int | float) else "-"
