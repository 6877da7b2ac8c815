"""Run the OpenAI-compatible server: in the foreground (CLI) or in a thread (tests, bench)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from flowpo.errors import ConfigError
from flowpo.models.local import LocalLM
from flowpo.models.spec import DEFAULT_MODEL, parse_spec


def check_host(host: str, *, allow_public: bool) -> None:
    """Refuse to bind a non-loopback address unless ``allow_public`` says so.

    Raises:
        ConfigError: For a public (or unresolvable) host without ``allow_public``.
    """
    if allow_public:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise ConfigError(
            f"cannot resolve host {host!r} ({exc})", field="host", fix="use 127.0.0.1"
        ) from exc
    public = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if public:
        raise ConfigError(
            f"host {host!r} is not a loopback address ({', '.join(sorted(public))}): the server "
            "has no authentication, so anyone who can reach it can use the model",
            field="host",
            fix="bind 127.0.0.1 (the default), or pass --allow-public if you mean it",
        )


def load_local(spec: str = DEFAULT_MODEL, **options: Any) -> tuple[LocalLM, str]:
    """Load a local model spec; return the model and the name it is served under.

    Raises:
        ConfigError: If the spec is not a local model.
    """
    parsed = parse_spec(spec)
    if parsed.provider != "local":
        raise ConfigError(
            f"serve-model serves local models only, got {spec!r}",
            field="model",
            fix="give 'local:smollm2-135m' or 'local:/path/to/model'",
        )
    keys = ("device", "dtype", "batch_size")
    lm = LocalLM(parsed.model, **{k: v for k, v in options.items() if k in keys})
    return lm, parsed.model


def build_app(lm: LocalLM, name: str, **options: Any) -> Any:
    """Return the ASGI app for ``lm`` (options: max_batch, batch_wait_ms, max_tokens_cap)."""
    from flowpo.model_server.engine import Engine
    from flowpo.model_server.openai_api import create_app

    engine = Engine(lm, max_tokens_cap=options.pop("max_tokens_cap", 1024))
    return create_app(engine, model_name=name, **options)


@dataclass
class RunningServer:
    """A server started by ``start_server``; ``stop()`` shuts it down."""

    base_url: str
    """``http://host:port/v1``."""
    model: str
    """The served model name."""
    _server: Any
    _thread: threading.Thread

    @property
    def spec(self) -> str:
        """Return the model spec that targets this server."""
        return f"openai-compatible:{self.base_url}#{self.model}"

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_server(
    lm: LocalLM, name: str, *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> RunningServer:
    """Serve ``lm`` from a background thread (port 0 picks a free port); return when ready."""
    import uvicorn

    check_host(host, allow_public=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(build_app(lm, name, **options), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the model server did not start")
        time.sleep(0.02)
    bound = sock.getsockname()[1]
    return RunningServer(f"http://{host}:{bound}/v1", name, server, thread)
