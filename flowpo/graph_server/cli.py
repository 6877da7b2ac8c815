"""``flowpo serve``: run the flowpo graph on a local LangGraph server (``langgraph dev``).

The server binds 127.0.0.1. It has no authentication: anyone who can reach the port can
start runs (which spend compute and, with remote models, money) and read every thread.
Before exposing it, put an authenticating reverse proxy (or LangGraph's ``auth`` entry)
in front of it; binding a non-loopback address needs ``--allow-public``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from flowpo.errors import ConfigError
from flowpo.run.checkpoints import CHECKPOINTS_ENV, SERVER_CHECKPOINTS
from flowpo.run.requests import DATA_DIR_ENV, RUNS_DIR_ENV

_F = TypeVar("_F", bound=Callable[..., Any])

GRAPH_ID = "flowpo"
SERVER_DIR = ".server"


def langgraph_config(dependencies: list[str] | None = None) -> dict[str, Any]:
    """Return the ``langgraph.json`` content: graph, SQLite checkpointer, HTTP app."""
    return {
        "dependencies": dependencies or ["."],
        "graphs": {GRAPH_ID: "flowpo.graphs.service:graph"},
        # langgraph-api splits a module path at its last dot (not at ':') here.
        "checkpointer": {"path": "flowpo.run.checkpoints.sqlite_checkpointer"},
        "http": {"app": "flowpo.graph_server.app:app"},
        "env": {"HF_HUB_OFFLINE": "1", "LANGGRAPH_CLI_NO_ANALYTICS": "1"},
    }


def is_loopback(host: str) -> bool:
    """Return whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    *, host: str, port: int, allow_public: bool, config_path: Path, reload: bool = False
) -> list[str]:
    """Return the ``langgraph dev`` command line; refuse a public address without consent."""
    if not is_loopback(host) and not allow_public:
        raise ConfigError(
            f"refusing to bind {host!r}: the server has no authentication",
            field="host",
            fix="keep the default 127.0.0.1 (reach it through an authenticating proxy), "
            "or pass --allow-public if something in front of it checks who calls",
        )
    cmd = [sys.executable, "-m", "langgraph_cli", "dev", "--config", str(config_path)]
    cmd += ["--host", host, "--port", str(port), "--no-browser", "--allow-blocking"]
    return cmd if reload else [*cmd, "--no-reload"]


def server_env(data_dir: Path, runs_dir: Path) -> dict[str, str]:
    """Return the server process's environment: offline, no analytics, the roots."""
    env = dict(os.environ)
    env.update(
        {
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "HF_HUB_OFFLINE": "1",
            DATA_DIR_ENV: str(data_dir),
            RUNS_DIR_ENV: str(runs_dir),
            CHECKPOINTS_ENV: env.get(CHECKPOINTS_ENV) or str(runs_dir / SERVER_CHECKPOINTS),
        }
    )
    # The server imports flowpo from the same place this process does.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _dir_option(flag: str, default: Path, help_: str) -> Callable[[_F], _F]:
    """Return a ``click`` option taking a directory path, its default shown in the help."""
    return click.option(
        flag,
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help=help_,
    )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=2024, show_default=True, type=int, help="Port to bind.")
@click.option(
    "--allow-public",
    is_flag=True,
    help="Allow a non-loopback --host (put authentication in front of it first).",
)
@_dir_option(
    "--data-dir",
    Path("."),
    "Requests may only name data files and prompt templates under this directory.",
)
@_dir_option(
    "--runs-dir",
    Path("runs"),
    "Run directories (and the server's SQLite checkpoints) go under this directory.",
)
@click.option("--reload", is_flag=True, help="Restart the server when the code changes.")
def serve(
    host: str, port: int, allow_public: bool, data_dir: Path, runs_dir: Path, reload: bool
) -> None:
    """Serve the flowpo graph with LangGraph's local server (needs the [server] extra)."""
    data_dir, runs_dir = data_dir.resolve(), runs_dir.resolve()
    work = runs_dir / SERVER_DIR  # langgraph dev keeps its own files in its working dir
    config_path = work / "langgraph.json"
    cmd = serve_command(
        host=host, port=port, allow_public=allow_public, config_path=config_path, reload=reload
    )
    work.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(langgraph_config(), indent=2) + "\n", encoding="utf-8")
    try:
        import langgraph_api  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the LangGraph server is not installed",
            field="serve",
            fix="pip install 'flowpo[server]' (or 'langgraph-cli[inmem]')",
        ) from None
    click.echo(f"flowpo server on http://{host}:{port} (graph '{GRAPH_ID}'); Ctrl-C stops it")
    proc = subprocess.Popen(cmd, cwd=work, env=server_env(data_dir, runs_dir))
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    raise SystemExit(code)
