"""``flowpo report`` and ``flowpo trace upload``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """Write RUN_DIR/report.html: scores, loss, Q heat map, operators, budget, prompt diff."""
    from flowpo.reporting.data import load
    from flowpo.reporting.html import write_report

    path = write_report(run_dir)
    missing = load(run_dir).missing
    click.echo(f"wrote {path}")
    for m in missing:
        click.echo(f"  incomplete: {m}", err=True)


@click.group("trace")
def trace() -> None:
    """Work with a run's trace.json (its LangSmith run tree)."""


@trace.command("upload")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--project", default=None, help="LangSmith project [default: $LANGSMITH_PROJECT].")
def upload_cmd(run_dir: Path, project: str | None) -> None:
    """Post RUN_DIR/trace.json to LANGSMITH_ENDPOINT (or LangSmith with LANGSMITH_API_KEY)."""
    from flowpo.run.tracing import upload

    n = upload(run_dir, project=project)
    click.echo(f"uploaded {n} runs from {run_dir}")
