"""``flowpo serve``: run the flowpo graph on a local LangGraph server (``langgraph dev``).

The server binds 127.0.0.1 and, by default, has no authentication and closed CORS: no web
page may call it (:class:`flowpo.graph_server.app.Gate`), but anyone who can reach the port
can start runs. Requests may only name the models the operator lists (``--models``) or the
server's own configuration uses, and never its executor, Ray address or checkpointer.
Binding a non-loopback address needs ``--allow-public``, which turns on a bearer token
(``--token``, ``$FLOWPO_SERVE_TOKEN``, or one generated and printed once).

The port is checked before ``langgraph dev`` starts (a busy one is refused, ``--port 0``
picks a free one), and SIGINT or SIGTERM stop the whole server (exit 0).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

import click

from flowpo.errors import ConfigError
from flowpo.graph_server.app import ORIGINS_ENV, TOKEN_ENV
from flowpo.models.spec import parse_spec
from flowpo.run.checkpoints import CHECKPOINTS_ENV, SERVER_CHECKPOINTS
from flowpo.run.requests import DATA_DIR_ENV, MODELS_ENV, RUNS_DIR_ENV

_F = TypeVar("_F", bound=Callable[..., Any])

GRAPH_ID = "flowpo"
SERVER_DIR = ".server"
STOP_GRACE = 15.0
"""Seconds the server may take to shut down after SIGINT/SIGTERM before it is killed."""
EXPOSE = ["x-pagination-total", "x-pagination-next", "content-location"]


def cors_config(origins: list[str] | None = None) -> dict[str, Any]:
    """Return langgraph-api's CORS settings: only ``origins`` (none by default)."""
    return {
        "allow_origins": list(origins or []),
        "allow_methods": ["*"],
        "allow_headers": ["*"],
        "allow_credentials": False,
        "expose_headers": EXPOSE,
    }


def langgraph_config(
    dependencies: list[str] | None = None,
    *,
    origins: list[str] | None = None,
    auth: bool = False,
) -> dict[str, Any]:
    """Return the ``langgraph.json`` content: graph, SQLite checkpointer, HTTP app, CORS.

    Args:
        dependencies: The ``dependencies`` entry (default: the current directory).
        origins: Web origins CORS allows (default: none).
        auth: Add the bearer-token custom auth (:mod:`flowpo.graph_server.auth`).
    """
    config: dict[str, Any] = {
        "dependencies": dependencies or ["."],
        "graphs": {GRAPH_ID: "flowpo.graphs.service:graph"},
        # langgraph-api splits a module path at its last dot (not at ':') here.
        "checkpointer": {"path": "flowpo.run.checkpoints.sqlite_checkpointer"},
        "http": {"app": "flowpo.graph_server.app:app", "cors": cors_config(origins)},
        "env": {"HF_HUB_OFFLINE": "1", "LANGGRAPH_CLI_NO_ANALYTICS": "1"},
    }
    if auth:
        # Studio's "langsmith" auth scheme would bypass the token: off.
        config["auth"] = {"path": "flowpo.graph_server.auth:auth", "disable_studio_auth": True}
        config["http"]["enable_custom_route_auth"] = True
    return config


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
            "or pass --allow-public, which requires a bearer token",
        )
    cmd = [sys.executable, "-m", "langgraph_cli", "dev", "--config", str(config_path)]
    cmd += ["--host", host, "--port", str(port), "--no-browser", "--allow-blocking"]
    return cmd if reload else [*cmd, "--no-reload"]


def server_env(
    data_dir: Path,
    runs_dir: Path,
    *,
    models: list[str] | None = None,
    origins: list[str] | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """Return the server process's environment: offline, no analytics, roots, policy."""
    env = dict(os.environ)
    for name in ("CORS_ALLOW_ORIGINS", MODELS_ENV, TOKEN_ENV):
        env.pop(name, None)  # only this command's options decide these
    env.update(
        {
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "HF_HUB_OFFLINE": "1",
            DATA_DIR_ENV: str(data_dir),
            RUNS_DIR_ENV: str(runs_dir),
            CHECKPOINTS_ENV: env.get(CHECKPOINTS_ENV) or str(runs_dir / SERVER_CHECKPOINTS),
            "CORS_CONFIG": json.dumps(cors_config(origins)),  # wins over langgraph.json
            ORIGINS_ENV: ",".join(origins or []),
        }
    )
    if models:
        env[MODELS_ENV] = ",".join(models)
    if token:
        env[TOKEN_ENV] = token
    # The server imports flowpo from the same place this process does.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def parse_models(text: str | None, base: Path) -> list[str]:
    """Check ``--models`` specs; make ``local:`` paths absolute (relative to ``base``)."""
    specs = []
    for spec in (s.strip() for s in (text or "").split(",")):
        if not spec:
            continue
        try:
            parsed = parse_spec(spec)
        except ConfigError as e:
            raise ConfigError(e.what, field="models", fix=e.fix) from None
        if parsed.provider == "local" and ("/" in parsed.model or "\\" in parsed.model):
            spec = f"local:{(base / parsed.model).resolve()}"
        specs.append(spec)
    return specs


def parse_origins(text: str | None) -> list[str]:
    """Check ``--cors-origins``: ``scheme://host[:port]`` each, no wildcard, no path."""
    origins = [o.strip().rstrip("/") for o in (text or "").split(",") if o.strip()]
    for origin in origins:
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest or "*" in rest:
            raise ConfigError(
                f"bad origin {origin!r}",
                field="cors-origins",
                fix="give web origins like https://app.example.com,http://localhost:3000",
            )
    return origins


def check_port(host: str, port: int) -> int:
    """Return ``port`` if it is free on ``host`` (``0``: a free one), else raise."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({e.strerror or e})",
                field="port",
                fix="stop what uses that port, or pass another --port (0 picks a free one)",
            ) from None
        return int(s.getsockname()[1])


def url_of(host: str, port: int) -> str:
    """Return the server's base URL."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_until_stopped(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> int:
    """Wait for the server; on SIGINT/SIGTERM stop its whole process group.

    Returns the server's exit code, or 0 after a stop asked for by a signal.
    """
    asked: list[float] = []

    def stop(signum: int, frame: object) -> None:
        asked.append(time.monotonic())
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > grace:
                    with suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of the server outlives it
    return 0 if asked else code


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
@click.option("--port", default=2024, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--allow-public",
    is_flag=True,
    help="Allow a non-loopback --host; requests then need the bearer token.",
)
@click.option(
    "--token",
    default=None,
    help="Bearer token requests must send (default: $FLOWPO_SERVE_TOKEN; with "
    "--allow-public and none given, one is generated and printed once).",
)
@click.option(
    "--models",
    default=None,
    help="Comma-separated model specs requests may choose (default: the embedded "
    "model); the server's own configured models are always allowed.",
)
@click.option(
    "--cors-origins",
    default=None,
    help="Comma-separated web origins allowed to call the server (default: none).",
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
def serve(**options: Any) -> None:
    """Serve the flowpo graph with LangGraph's local server (needs the [server] extra)."""
    raise SystemExit(_serve(**options))


def _serve(
    *,
    host: str,
    port: int,
    allow_public: bool,
    token: str | None,
    models: str | None,
    cors_origins: str | None,
    data_dir: Path,
    runs_dir: Path,
    reload: bool,
) -> int:
    data_dir, runs_dir = data_dir.resolve(), runs_dir.resolve()
    work = runs_dir / SERVER_DIR  # langgraph dev keeps its own files in its working dir
    config_path = work / "langgraph.json"
    serve_command(host=host, port=port, allow_public=allow_public, config_path=config_path)
    specs, origins = parse_models(models, Path.cwd()), parse_origins(cors_origins)
    token = token or os.environ.get(TOKEN_ENV) or None
    generated = allow_public and not token
    if generated:
        token = secrets.token_urlsafe(24)
    try:
        import langgraph_api  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the LangGraph server is not installed",
            field="serve",
            fix="pip install -e '.[server]' (or 'langgraph-cli[inmem]')",
        ) from None
    port = check_port(host, port)
    cmd = serve_command(
        host=host, port=port, allow_public=allow_public, config_path=config_path, reload=reload
    )
    work.mkdir(parents=True, exist_ok=True)
    text = json.dumps(langgraph_config(origins=origins, auth=bool(token)), indent=2) + "\n"
    config_path.write_text(text, encoding="utf-8")
    click.echo(f"flowpo server on {url_of(host, port)} (graph '{GRAPH_ID}'); Ctrl-C stops it")
    if generated:
        click.echo(f"token (send 'Authorization: Bearer <token>'): {token}")
    env = server_env(data_dir, runs_dir, models=specs, origins=origins, token=token)
    proc = subprocess.Popen(cmd, cwd=work, env=env, start_new_session=True)
    return run_until_stopped(proc)
