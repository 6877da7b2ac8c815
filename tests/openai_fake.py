"""OpenAI-style chat-completion bodies for the fake servers of the tests.

``tests/`` is on ``sys.path`` (its ``conftest.py`` puts it there), so unit and
integration tests both ``from openai_fake import ...``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(
    content: str = "yes",
    top: list[tuple[str, float]] | None = None,
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 1,
    finish_reason: str = "stop",
    completion_id: str = "chatcmpl-fake",
) -> dict[str, Any]:
    """Return a chat.completion body; ``top=None`` leaves log-probs out.

    ``top`` is the first token's alternatives, best first: ``[(token, logprob), ...]``.
    """
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": finish_reason,
        "logprobs": None,
    }
    if top is not None:
        entries = [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]
        choice["logprobs"] = {"content": [{**entries[0], "top_logprobs": entries}]}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer ``handler``'s request with ``payload`` (JSON; ``bytes`` are sent as they are)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(data)


def serve_in_thread(httpd: ThreadingHTTPServer) -> str:
    """Serve ``httpd`` (bound to 127.0.0.1) from a daemon thread; return its ``/v1`` URL."""
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/v1"


def read_json(handler: BaseHTTPRequestHandler) -> Any:
    """Return the JSON body of ``handler``'s request."""
    return json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
