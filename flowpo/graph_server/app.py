"""HTTP additions to the LangGraph server: request checks (422 naming the field), health.

The middleware sees every run request (``POST /runs``, ``/threads/<id>/runs``, their
``/stream`` and ``/wait`` forms) before LangGraph does, checks the ``input``, the
``context`` and a ``command``'s resume value with the same code the graph runs, and
answers a bad one with ``422 {"detail": ..., "field": ...}``: no run is created, so the
thread stays as it was and the next good request on it works.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowpo.errors import FlowpoError
from flowpo.run.approval import parse_decision
from flowpo.run.requests import Roots, check_request

RUN_PATH = re.compile(r"^(/threads/[^/]+)?/runs(/stream|/wait)?/?$")
INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY = 64 * 1024 * 1024


def check_run_body(body: bytes, roots: Roots) -> dict[str, Any] | None:
    """Return ``{"detail", "field"}`` for a bad run request body, ``None`` for a good one."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError as e:
        return {"detail": f"the request body is not JSON ({e})", "field": "body"}
    if not isinstance(payload, dict):
        return {"detail": "the request body must be a JSON object", "field": "body"}
    context = payload.get("context")
    if context is not None and not isinstance(context, dict):
        return {"detail": "'context' must be an object of run settings", "field": "context"}
    try:
        command = payload.get("command")
        if isinstance(command, dict) and "resume" in command:
            for decision in _decisions(command["resume"]):
                parse_decision(decision)
        if payload.get("input") is not None:
            check_request(payload["input"], context, roots=roots)
    except FlowpoError as e:
        return {"detail": e.message, "field": e.field}
    return None


def _decisions(resume: Any) -> list[Any]:
    """Return the decisions in a resume value: one, or one per interrupt id."""
    if isinstance(resume, dict) and resume and all(INTERRUPT_ID.match(str(k)) for k in resume):
        return list(resume.values())
    return [resume]


class RequestCheck:
    """ASGI middleware: check run requests, pass everything else through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a run request's body, then replay it to the wrapped app."""
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and RUN_PATH.match(scope["path"])
        ):
            await self.app(scope, receive, send)
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
        error = check_run_body(body, Roots.from_env())
        if error is not None:
            await JSONResponse(error, status_code=422)(scope, receive, send)
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
    """Say which graph is served and where its files go."""
    roots = Roots.from_env()
    return JSONResponse(
        {"graph": "flowpo", "data_dir": str(roots.data), "runs_dir": str(roots.runs)}
    )


app = Starlette(routes=[Route("/flowpo/health", health)], middleware=[Middleware(RequestCheck)])
"""Named by ``langgraph.json``'s ``http.app``; LangGraph merges it into the server."""
