"""A fake OpenAI-compatible server on 127.0.0.1 that misbehaves on a schedule.

It plays both roles of a run: the target model (requests asking for ``logprobs``:
one token with deterministic log-probs for the label words) and the operator LM (other
requests: a deterministic new section text). Faults are scheduled by the 1-based index
of the target or operator request; each scheduled fault is counted when it is served.

Fault kinds: ``429``, ``500``, ``503`` (an HTTP error), ``timeout`` (answers after the
client gave up), ``reset`` (closes the connection without an answer), ``garbage`` (HTTP
200 with a body that is not JSON), ``nologprobs`` (a completion without log-probs);
operator answers only: ``op_garbage``, ``op_empty``, ``op_long``, ``op_slot``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openai_fake import completion, read_json, send_json, serve_in_thread

LABEL_WORDS = ("negative", "positive")


def _h(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)


def target_reply(content: str) -> dict[str, Any]:
    """Score the label words: the right word wins when the prompt is "good" enough.

    Inputs end in ``good``/``bad``; the prompt's hash decides how often the model is right,
    so prompts differ in score and the search has something to find.
    """
    good = "good" in content.rsplit("Input", 1)[-1]
    skill = _h(content.rsplit("Input", 1)[0]) % 100 / 100  # prompt quality in [0, 1)
    right = (_h(content) % 100) / 100 < 0.4 + 0.6 * skill
    pos = good if right else not good
    top = (
        [("positive", -0.2), ("negative", -1.8)]
        if pos
        else [("negative", -0.2), ("positive", -1.8)]
    )
    return completion(top[0][0], top)


def operator_reply(body: dict[str, Any]) -> str:
    """Return a plausible new section text, different for every request."""
    user = str(body["messages"][-1]["content"])
    return (
        f"Read the review and decide if its sentiment is positive or negative (v{_h(user) % 9973})."
    )


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on purpose here (timeouts, resets)


class FaultServer:
    """Serve chat completions on 127.0.0.1 with scheduled faults.

    Args:
        target_faults: ``{target request index: kind}``.
        operator_faults: ``{operator request index: kind}``.
        down: Target request indices answered ``503`` (an outage longer than the retries).
        timeout_sleep: How long a ``timeout`` fault waits before answering.
        delay: Seconds every target request takes (to make a run slow enough to stop).
    """

    def __init__(
        self,
        target_faults: dict[int, str] | None = None,
        operator_faults: dict[int, str] | None = None,
        *,
        down: range | None = None,
        timeout_sleep: float = 1.0,
        delay: float = 0.0,
    ) -> None:
        self.target_faults = dict(target_faults or {})
        self.operator_faults = dict(operator_faults or {})
        self.down = down or range(0)
        self.timeout_sleep = timeout_sleep
        self.delay = delay
        self.target_requests = 0
        self.operator_requests = 0
        self.injected: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        """Target inputs answered successfully, by content (a repeat = work done twice)."""
        self.operator_inputs: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.base_url = serve_in_thread(self.httpd)
        self.spec = f"openai-compatible:{self.base_url}#fake"

    @property
    def injected_total(self) -> int:
        return sum(self.injected.values())

    def heal(self) -> None:
        """Stop every scheduled fault and outage from now on."""
        with self._lock:
            self.target_faults.clear()
            self.operator_faults.clear()
            self.down = range(0)

    def _plan(self, body: dict[str, Any]) -> tuple[str, str | None]:
        with self._lock:
            if body.get("logprobs"):
                self.target_requests += 1
                n = self.target_requests
                kind = "503" if n in self.down else self.target_faults.get(n)
                role = "target"
            else:
                self.operator_requests += 1
                kind = self.operator_faults.get(self.operator_requests)
                role = "operator"
                self.operator_inputs.append(body)
            if kind:
                self.injected[f"{role}:{kind}"] += 1
        return role, kind

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = read_json(self)
                role, kind = server._plan(body)
                content = str(body["messages"][-1]["content"])
                if role == "target" and server.delay:
                    time.sleep(server.delay)
                if kind in ("429", "500", "503"):
                    err = {"error": {"message": f"injected {kind}", "type": "fault", "code": kind}}
                    send_json(self, int(kind), err, {"retry-after-ms": "5"})
                    return
                if kind == "timeout":
                    time.sleep(server.timeout_sleep)
                elif kind == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                elif kind == "garbage":
                    send_json(self, 200, b"<html>502 Bad Gateway</html>")
                    return
                if role == "target":
                    payload = (
                        completion("positive") if kind == "nologprobs" else target_reply(content)
                    )
                    if kind not in ("timeout", "nologprobs"):  # those answers are useless
                        with server._lock:
                            if content != "ping":  # the preflight check, not a scored example
                                server.answered[content] += 1
                else:
                    text = {
                        "op_garbage": "\x00\x01 ���� }{][ ###",
                        "op_empty": "",
                        "op_long": "word " * 2000,
                        "op_slot": "Classify {text} now.",
                    }.get(kind or "", None)
                    payload = completion(operator_reply(body) if text is None else text)
                try:
                    send_json(self, 200, payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout fault)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
