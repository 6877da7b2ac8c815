"""The ``flowpo`` command line; options are generated from the config objects' fields."""

from __future__ import annotations

import functools
import json
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from flowpo.cli_options import GroupedCommand, options_from
from flowpo.cli_progress import EvalBar, Progress, report, setup_output
from flowpo.config import EvalConfig, OptimizeConfig, make_config
from flowpo.errors import FlowpoError, RunStopped


@click.group()
@click.version_option(package_name="flowpo")
def cli() -> None:
    """Train prompts like neural networks."""


@cli.command("eval", cls=GroupedCommand)
@click.option("--quiet", is_flag=True, help="No progress bar, no model-loading line.")
@options_from(EvalConfig)
def eval_cmd(quiet: bool, **kwargs: Any) -> None:
    """Score a prompt on a task split with the target model and write a JSON result."""
    from flowpo.api import default_output, evaluate

    setup_output(quiet)
    config = typing.cast(EvalConfig, make_config(EvalConfig, **kwargs))
    bar = EvalBar(config.task, quiet)
    start = time.perf_counter()
    try:
        result, summary = evaluate(config, progress=bar)
    finally:
        bar.close()
    summary["seconds"] = round(time.perf_counter() - start, 2)
    out = config.output or default_output(config, result)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"summary": summary, **result.to_dict()}
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    click.echo(
        f"{summary['task']} {summary['split']}: {result.metric} = {result.score:.4f} "
        f"on {summary['examples']} examples ({result.model_calls} scored, "
        f"{result.cached} cached, {summary['seconds']} s) -> {out}"
    )


def _reviewer(config: OptimizeConfig) -> Callable[[dict[str, Any]], Any] | None:
    """Return the terminal reviewer when human approval is on (``--approve true``)."""
    from flowpo.run.approval import terminal_review

    return terminal_review if config.approve else None


def _run_and_report(config: OptimizeConfig, quiet: bool, run: Callable[..., Any]) -> None:
    """Call ``run`` with a progress bar, SIGINT draining and the reviewer; print the report.

    Args:
        config: The run's configuration (epochs for the bar, ``approve`` for the reviewer).
        quiet: Hide the progress bar.
        run: ``optimize`` or ``resume`` with its first argument bound; it takes
            ``on_event``, ``control`` and ``on_review`` and returns the run's result.
    """
    from langgraph.runtime import RunControl

    from flowpo.run.runner import drain_on_sigint

    setup_output(quiet)
    progress = Progress(config.max_epochs, quiet)
    try:
        with drain_on_sigint(RunControl()) as control:
            result = run(on_event=progress, control=control, on_review=_reviewer(config))
    finally:
        progress.close()
    report(result)


@cli.command("optimize", cls=GroupedCommand)
@click.option("--quiet", is_flag=True, help="No progress bar, no model-loading line.")
@options_from(OptimizeConfig)
def optimize_cmd(quiet: bool, **kwargs: Any) -> None:
    """Optimize a prompt on a task; writes everything to the run directory."""
    from flowpo.run.runner import optimize

    config = typing.cast(OptimizeConfig, make_config(OptimizeConfig, **kwargs))
    _run_and_report(config, quiet, functools.partial(optimize, config))


@cli.command("resume")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--quiet", is_flag=True, help="No progress bar, no model-loading line.")
def resume_cmd(run_dir: Path, quiet: bool) -> None:
    """Continue a stopped or killed run; examples already scored are not scored again."""
    from flowpo.run.runner import resume
    from flowpo.run.settings import load_config

    _run_and_report(load_config(run_dir), quiet, functools.partial(resume, run_dir))


@cli.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tasks_cmd(as_json: bool) -> None:
    """List the built-in tasks with their split sizes."""
    from flowpo.tasks import list_tasks

    rows = list_tasks()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(
        f"{'task':34} {'kind':15} {'metric':12} {'labels':>6} "
        f"{'train':>6} {'dev':>5} {'test':>6} {'pool':>6}"
    )
    for r in rows:
        s = r.get("sizes", {})
        click.echo(
            f"{r['name']:34} {r['kind']:15} {r['metric']:12} {r.get('n_labels', 0):>6} "
            f"{s.get('train', 0):>6} {s.get('dev', 0):>5} {s.get('test', 0):>6} "
            f"{s.get('pool', 0):>6}"
        )


COMMANDS = [
    # "module:attribute" of each click command or group defined outside this file (one per line).
    "flowpo.memory.cli:memory",
    "flowpo.model_server.cli:serve_model",
    "flowpo.graph_server.cli:serve",
    "flowpo.reporting.cli:report",
    "flowpo.reporting.cli:trace",
    "flowpo.run.export:export",
]


def _register_groups() -> None:
    import importlib

    for spec in COMMANDS:
        module, attr = spec.split(":")
        cli.add_command(getattr(importlib.import_module(module), attr))


_register_groups()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one clear line and exit with status 2.

    A run stopped by Ctrl-C exits with status 130 after saying how to resume it.
    """
    try:
        cli.main(args=argv, standalone_mode=False)
    except RunStopped as e:
        click.echo(f"stopped: {e}", err=True)
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        click.echo(
            "stopped at once: the step in flight is lost, its scored examples are cached; "
            "continue with 'flowpo resume <run-dir>'",
            err=True,
        )
        raise SystemExit(130) from None
    except FlowpoError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(2) from None
    except click.exceptions.Abort:
        raise SystemExit(130) from None
    except click.ClickException as e:
        e.show()
        raise SystemExit(e.exit_code) from None


if __name__ == "__main__":
    main()
