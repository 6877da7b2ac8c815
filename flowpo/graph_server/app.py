"""HTTP additions to the LangGraph server: a gate, request checks (422 naming the field).

:class:`Gate` answers first: a state-changing request from a web page whose ``Origin`` is
not the server's own nor one of ``flowpo serve --cors-origins`` gets 403 (a browser sends
a "simple" POST without a preflight, so closed CORS alone would not stop it), and with a
token (``--allow-public``, ``--token``, ``$FLOWPO_SERVE_TOKEN``) every request but ``/ok``
needs ``Authorization: Bearer <token>`` (401 otherwise). LangGraph's own custom auth
(:mod:`flowpo.graph_server.auth`) checks the same token behind it.

The middleware sees every run request (``POST /runs``, ``/threads/<id>/runs``, their
``/stream`` and ``/wait`` forms) before LangGraph does, checks the ``input``, the
``context`` and a ``command``'s resume value with the same code the graph runs, and
answers a bad one with ``422 {"detail": ..., "field": ...}``: no run is created, so the
thread stays as it was and the next good request on it works. An assistant's ``context``
is checked the same way, and writing a thread's state (``POST /threads/<id>/state``, a new
thread's ``supersteps``) is refused with 403: it could skip these checks (the graph
checks the settings again before it runs, too).
"""

from __future__ import annotations

import hmac
import json
import os
import re
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowpo.config import OptimizeConfig
from flowpo.errors import FlowpoError
from flowpo.run.approval import parse_decision
from flowpo.run.requests import Roots, allowed_models, check_request

TOKEN_ENV = "FLOWPO_SERVE_TOKEN"
ORIGINS_ENV = "FLOWPO_SERVE_CORS_ORIGINS"
OPEN_PATHS = ("/ok",)
"""Paths answered without the token (liveness checks)."""
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
RUN_PATH = re.compile(r"^(/threads/[^/]+)?/runs(/stream|/wait|/crons|/batch)?/?$")
ASSISTANT_PATH = re.compile(r"^/assistants(/[^/]+)?/?$")
"""An assistant's ``context`` becomes its runs' context: checked like a run's."""
THREADS_PATH = re.compile(r"^/threads/?$")
STATE_PATH = re.compile(r"^/threads/[^/]+/state/?$")
STATE_WRITE = {
    "detail": "the flowpo graph's state is written by its own nodes only",
    "field": "state",
    "fix": "start a run with an input, or answer a review with a command's resume value",
    "status": 403,
}
"""A state update (or a thread created with ``supersteps``) could skip the request checks."""
INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY = 64 * 1024 * 1024


def check_run_body(body: bytes, roots: Roots) -> dict[str, Any] | None:
    """Return ``{"detail", "field"}`` for a bad run request body, ``None`` for a good one."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError as e:
        return {"detail": f"the request body is not JSON ({e})", "field": "body"}
    if isinstance(payload, list) and payload:  # /runs/batch
        errors = (check_run_body(json.dumps(p).encode(), roots) for p in payload)
        return next((e for e in errors if e is not None), None)
    if not isinstance(payload, dict):
        return {"detail": "the request body must be a JSON object", "field": "body"}
    context = payload.get("context")
    if context is not None and not isinstance(context, dict):
        return {"detail": "'context' must be an object of run settings", "field": "context"}
    command = payload.get("command")
    if isinstance(command, dict) and (command.get("update") or command.get("goto")):
        key = "update" if command.get("update") else "goto"
        return {
            "detail": f"a command's {key!r} would write the graph's state",
            "field": f"command.{key}",
            "fix": "send only command.resume (the answer to a review)",
        }
    try:
        if isinstance(command, dict) and "resume" in command:
            for decision in _decisions(command["resume"]):
                parse_decision(decision)
        if payload.get("input") is not None:
            check_request(payload["input"], context, roots=roots)
        elif context is not None:
            check_request({}, context, roots=roots)
    except FlowpoError as e:
        return {"detail": e.message, "field": e.field}
    return None


def check_thread_body(body: bytes, roots: Roots) -> dict[str, Any] | None:
    """Refuse a new thread whose body writes state (``supersteps``)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError as e:
        return {"detail": f"the request body is not JSON ({e})", "field": "body"}
    return STATE_WRITE if isinstance(payload, dict) and payload.get("supersteps") else None


def _checker(scope: Scope) -> Any:
    """Return the body check for a request, ``STATE_WRITE`` to refuse it, or ``None``."""
    if scope["type"] != "http":
        return None
    method, path = scope["method"], scope["path"]
    if method == "POST" and RUN_PATH.match(path):
        return check_run_body
    if method in ("POST", "PATCH") and ASSISTANT_PATH.match(path):
        return check_run_body
    if method == "POST" and THREADS_PATH.match(path):
        return check_thread_body
    if method in ("POST", "PATCH") and STATE_PATH.match(path):
        return STATE_WRITE
    return None


async def _answer(error: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
    """Send ``error`` (status 422 unless it names one)."""
    body = {k: v for k, v in error.items() if k != "status"}
    await JSONResponse(body, status_code=error.get("status", 422))(scope, receive, send)


def _decisions(resume: Any) -> list[Any]:
    """Return the decisions in a resume value: one, or one per interrupt id."""
    if isinstance(resume, dict) and resume and all(INTERRUPT_ID.match(str(k)) for k in resume):
        return list(resume.values())
    return [resume]


def token_ok(authorization: str | None) -> bool:
    """Return whether ``authorization`` carries the server's token (always, without one)."""
    expected = os.environ.get(TOKEN_ENV, "")
    if not expected:
        return True
    scheme, _, given = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


def origin_ok(origin: str | None, host: str | None) -> bool:
    """Return whether a request from ``origin`` may change state on the server at ``host``."""
    if origin is None:
        return True  # not sent by a web page (curl, the SDK, RemoteGraph)
    allowed = [o.strip().rstrip("/") for o in os.environ.get(ORIGINS_ENV, "").split(",")]
    own = {f"http://{host}", f"https://{host}"} if host else set()
    return origin.rstrip("/") in own or origin.rstrip("/") in [o for o in allowed if o]


class Gate:
    """ASGI middleware: refuse foreign web pages and, with a token, callers without it."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 403 or 401, or pass the request on untouched."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Request(scope).headers
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and not origin_ok(origin, headers.get("host")):
            error = {
                "detail": f"requests from web pages at {origin} are refused",
                "field": "origin",
                "fix": "start the server with 'flowpo serve --cors-origins <that origin>'",
            }
            await JSONResponse(error, 403)(scope, receive, send)
            return
        if (
            scope["method"] != "OPTIONS"
            and scope["path"] not in OPEN_PATHS
            and not token_ok(headers.get("authorization"))
        ):
            error = {
                "detail": "this server needs a token",
                "field": "authorization",
                "fix": "send 'Authorization: Bearer <token>' (the token 'flowpo serve' "
                "printed, or $FLOWPO_SERVE_TOKEN)",
            }
            auth = {"WWW-Authenticate": "Bearer"}
            await JSONResponse(error, 401, headers=auth)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class RequestCheck:
    """ASGI middleware: check run (and assistant) requests, refuse state writes."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a run request's body, then replay it to the wrapped app."""
        check = _checker(scope)
        if check is None:
            await self.app(scope, receive, send)
            return
        if check is STATE_WRITE:
            await _answer(STATE_WRITE, scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await JSONResponse(
                    {"detail": "request body too large", "field": "body"}, 413
                )(scope, receive, send)
                return
        error = check(body, Roots.from_env())
        if error is not None:
            await _answer(error, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def health(request: Request) -> JSONResponse:
    """Say which graph is served, where its files go and which models requests may name."""
    roots = Roots.from_env()
    return JSONResponse(
        {
            "graph": "flowpo",
            "data_dir": str(roots.data),
            "runs_dir": str(roots.runs),
            "models": allowed_models(OptimizeConfig(), roots),
        }
    )


app = Starlette(
    routes=[Route("/flowpo/health", health)],
    middleware=[Middleware(Gate), Middleware(RequestCheck)],
)
"""Named by ``langgraph.json``'s ``http.app``; LangGraph merges it into the server."""
