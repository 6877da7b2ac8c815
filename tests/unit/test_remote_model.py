"""Unit tests for RemoteLM against a scripted fake OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest
from openai_fake import completion, read_json, send_json, serve_in_thread

from flowpo.errors import ConfigError, ModelError
from flowpo.models.remote import RemoteLM

Reply = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
T = TypeVar("T")


def _completion(
    content: str = "yes", top: list[tuple[str, float]] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Build a chat.completion body (7 prompt tokens unless told); ``top=None``: no logprobs."""
    kwargs.setdefault("prompt_tokens", 7)
    return completion(content, top, finish_reason="length", completion_id="chatcmpl-1", **kwargs)


class FakeServer:
    """An OpenAI-compatible server on 127.0.0.1 answering with a scripted reply."""

    def __init__(self, reply: Reply, delay: float = 0.0) -> None:
        """Start serving in a daemon thread."""
        self.reply = reply
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = serve_in_thread(self.httpd)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = read_json(self)
                with server._lock:
                    server.requests.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                time.sleep(server.delay)
                with server._lock:
                    server.in_flight -= 1
                status, payload = server.reply(body)
                send_json(self, status, payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_API_BASE",
        "OPENAI_BASE_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(reply: Reply, delay: float = 0.0) -> FakeServer:
        servers.append(FakeServer(reply, delay))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _model(server: FakeServer, **kwargs: Any) -> RemoteLM:
    return RemoteLM("fake", base_url=server.base_url, timeout=5, max_retries=0, **kwargs)


def _run(lm: RemoteLM, coro: Coroutine[Any, Any, T]) -> T:
    """Run one call in a fresh event loop and close the model's connections after it."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await lm.aclose()

    return asyncio.run(main())


TOP = [(" yes", -0.2), ("no", -1.5), ("yes", -3.0), ("Yes", -4.0)]


def test_score_labels_maps_tokens_and_floors_absent_words(serve: Any) -> None:
    other = [("no", -0.1), (" no", -0.05), ("maybe", -5.0)]

    def reply(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, _completion(top=TOP if body["messages"][0]["content"] == "Q: a" else other)

    server = serve(reply)
    lm = _model(server, top_logprobs=4)
    scores = _run(lm, lm.score_labels("Q: ", ["a", "b"], ["yes", "no", "maybe"]))
    assert scores[0] == [-0.2, -1.5, pytest.approx(-4.0 - math.log(2))]
    assert scores[1] == [pytest.approx(-5.0 - math.log(2)), -0.05, -5.0]
    body = server.requests[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 4
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 1
    assert body["temperature"] == 0
    contents = sorted(b["messages"][0]["content"] for b in server.requests)
    assert contents == ["Q: a", "Q: b"]
    assert all(
        len(b["messages"]) == 1 and b["messages"][0]["role"] == "user" for b in server.requests
    )


def test_concurrency_limit_respected(serve: Any) -> None:
    server = serve(lambda body: (200, _completion(top=TOP)), delay=0.05)
    lm = _model(server, concurrency=2)
    scores = _run(lm, lm.score_labels("", [str(i) for i in range(6)], ["yes"]))
    assert len(scores) == 6
    assert len(server.requests) == 6
    assert 1 <= server.max_in_flight <= 2


def test_no_logprobs_raises_model_error(serve: Any) -> None:
    server = serve(lambda body: (200, _completion(top=None)))
    lm = _model(server)
    with pytest.raises(ModelError, match="logprobs") as info:
        _run(lm, lm.score_labels("", ["x"], ["yes", "no"]))
    assert "generation mode" in str(info.value)


def test_closed_port_raises_model_error_with_base_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    lm = RemoteLM("fake", base_url=base_url, timeout=2, max_retries=0)
    with pytest.raises(ModelError, match="curl") as info:
        _run(lm, lm.score_labels("", ["x", "y"], ["yes"]))
    assert base_url in str(info.value)
    with pytest.raises(ModelError, match="is the server running"):
        _run(lm, lm.ping())


def test_unauthorized_raises_model_error_about_key(serve: Any) -> None:
    error = {"error": {"message": "bad key", "type": "invalid_request_error"}}
    server = serve(lambda body: (401, error))
    lm = _model(server, api_key="wrong")
    with pytest.raises(ModelError, match="API key"):
        _run(lm, lm.generate("", ["x"]))


def test_generate_returns_content_and_sends_max_tokens(serve: Any) -> None:
    def reply(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = body["messages"][0]["content"]
        return 200, _completion(content=f"echo {text}", completion_tokens=3)

    server = serve(reply)
    lm = _model(server)
    out = _run(lm, lm.generate("P:", ["a", "b", "c"], max_new_tokens=5))
    assert out == ["echo P:a", "echo P:b", "echo P:c"]
    assert all(b.get("max_completion_tokens", b.get("max_tokens")) == 5 for b in server.requests)
    assert "logprobs" not in server.requests[0]


def test_stats_count_calls_examples_and_tokens(serve: Any) -> None:
    server = serve(lambda body: (200, _completion(top=TOP, prompt_tokens=7)))
    lm = _model(server)
    _run(lm, lm.score_labels("", ["a", "b", "c"], ["yes"]))
    _run(lm, lm.generate("", ["d"]))  # a second event loop
    _run(lm, lm.ping())  # not counted
    assert lm.stats.as_dict() == {"calls": 4, "examples": 4, "tokens_in": 28, "tokens_out": 4}


def test_model_ids_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        RemoteLM("gpt-4o-mini")
    local = RemoteLM("m", base_url="http://127.0.0.1:1/v1/")
    assert local.model_id == "openai-compatible:http://127.0.0.1:1/v1#m"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert RemoteLM("gpt-4o-mini").model_id == "openai:gpt-4o-mini"


def test_check_words() -> None:
    lm = RemoteLM("m", base_url="http://127.0.0.1:1/v1")
    lm.check_words(["yes", " no"])
    with pytest.raises(ModelError, match="empty"):
        lm.check_words(["yes", "  "])
