"""``flowpo serve-model``: the embedded (or any local) model as an OpenAI-compatible endpoint."""

from __future__ import annotations

import click

from flowpo.errors import ConfigError, install_hint
from flowpo.models.spec import DEFAULT_MODEL


@click.command("serve-model")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="Local model spec.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port (0: any free).")
@click.option("--allow-public", is_flag=True, help="Allow a non-loopback --host (no auth!).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--dtype", default="auto", show_default=True, help="auto, float32, bfloat16.")
@click.option("--max-batch", default=64, show_default=True, help="Most requests in one batch.")
@click.option(
    "--batch-wait-ms", default=5.0, show_default=True, help="How long a request waits for company."
)
@click.option("--max-tokens", default=1024, show_default=True, help="Longest answer served.")
def serve_model(
    model: str,
    host: str,
    port: int,
    allow_public: bool,
    device: str,
    dtype: str,
    max_batch: int,
    batch_wait_ms: float,
    max_tokens: int,
) -> None:
    """Serve a local model: POST /v1/chat/completions, /v1/completions; GET /v1/models.

    Concurrent requests are batched: one forward pass scores a batch of one-token
    (log-prob) requests, one ``generate`` decodes a batch of answers.
    """
    import socket

    try:
        import uvicorn
    except ImportError:
        raise ConfigError(
            "'flowpo serve-model' needs uvicorn and starlette",
            fix=install_hint("serve"),
        ) from None

    from flowpo.model_server.server import build_app, check_host, load_local

    check_host(host, allow_public=allow_public)
    lm, name = load_local(model, device=device, dtype=dtype)
    app = build_app(
        lm, name, max_batch=max_batch, batch_wait_ms=batch_wait_ms, max_tokens_cap=max_tokens
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"serving {name} at http://{shown}:{bound}/v1 "
        f"(spec: openai-compatible:http://{shown}:{bound}/v1#{name})",
        err=True,
    )
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
