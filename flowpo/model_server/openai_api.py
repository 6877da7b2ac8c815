"""An OpenAI-compatible HTTP API over a local model (chat completions, completions, models).

Requests are validated with pydantic, answered by the batching ``Engine`` and shaped like
OpenAI's (and vLLM's) responses, including ``logprobs.content[i].top_logprobs`` for chat,
which is what ``RemoteLM`` reads for verbalizer scoring.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from flowpo.model_server.batcher import Batcher
from flowpo.model_server.engine import Choice, Engine, GenRequest, TokenLogprob


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=16)
    stop: str | list[str] | None = None
    stream: bool = False


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """Join the text parts of the content."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(_Sampling):
    """POST /v1/chat/completions body (the fields flowpo honours; others are ignored)."""

    messages: list[_Message] = Field(min_length=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)


class CompletionRequest(_Sampling):
    """POST /v1/completions body."""

    prompt: str | list[str]
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: bool = False


class ApiError(Exception):
    """An error answered as OpenAI's ``{"error": {...}}`` body."""

    def __init__(self, status: int, message: str, *, param: str | None = None) -> None:
        """Keep the HTTP status, message and offending parameter."""
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def response(self) -> JSONResponse:
        """Render as a JSON response."""
        kind = "not_found_error" if self.status == 404 else "invalid_request_error"
        body = {"error": {"message": self.message, "type": kind, "param": self.param, "code": None}}
        return JSONResponse(body, status_code=self.status)


def create_app(
    engine: Engine, *, model_name: str, max_batch: int = 64, batch_wait_ms: float = 5.0
) -> Starlette:
    """Build the ASGI app serving ``engine`` under the model name ``model_name``."""
    batcher: Batcher[GenRequest, list[Choice]] = Batcher(
        engine.run, max_batch=max_batch, wait_s=batch_wait_ms / 1000
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()

    api = _Api(engine, batcher, model_name)
    return Starlette(
        routes=[
            Route("/v1/models", api.models, methods=["GET"]),
            Route("/health", api.health, methods=["GET"]),
            Route("/v1/chat/completions", api.endpoint(ChatRequest, api.chat), methods=["POST"]),
            Route(
                "/v1/completions",
                api.endpoint(CompletionRequest, api.completions),
                methods=["POST"],
            ),
        ],
        lifespan=lifespan,
    )


class _Api:
    """The routes' handlers over one engine, its batcher and the served model name."""

    def __init__(
        self, engine: Engine, batcher: Batcher[GenRequest, list[Choice]], model_name: str
    ) -> None:
        self.engine, self.batcher, self.model_name = engine, batcher, model_name

    async def models(self, request: Request) -> Response:
        """GET /v1/models: the one model served."""
        card = {"id": self.model_name, "object": "model", "created": 0, "owned_by": "flowpo"}
        return JSONResponse({"object": "list", "data": [card]})

    async def health(self, request: Request) -> Response:
        """GET /health: status, model and the batcher's counters."""
        return JSONResponse(
            {
                "status": "ok",
                "model": self.model_name,
                "batches": self.batcher.batches,
                "items": self.batcher.items,
            }
        )

    def endpoint(
        self, schema: type[_Sampling], answer: Callable[[Any], Any]
    ) -> Callable[[Request], Any]:
        """Wrap ``answer`` to parse the body, check the model name and render ``ApiError``."""
        model_name = self.model_name

        async def handle(request: Request) -> Response:
            try:
                body = await _parse(request, schema)
                if body.model != model_name:
                    raise ApiError(
                        404, f"model '{body.model}' is not served here; use '{model_name}'",
                        param="model",
                    )
                return await answer(body)
            except ApiError as exc:
                return exc.response()

        return handle

    async def chat(self, body: ChatRequest) -> Response:
        """POST /v1/chat/completions (``stream`` sends the finished answer as events)."""
        engine, model_name = self.engine, self.model_name
        prompt = engine.chat_prompt([{"role": m.role, "content": m.text()} for m in body.messages])
        top = (body.top_logprobs or 0) if body.logprobs else None
        req = _gen_request(engine, body, prompt, top)
        choices = await self.batcher.submit(req)
        usage = _usage(len(prompt), choices)
        rid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.stream:
            return _stream_chat(rid, created, model_name, choices, usage)
        return JSONResponse(
            {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model_name,
                "choices": [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": c.text},
                        "finish_reason": c.finish_reason,
                        "logprobs": _chat_logprobs(c.logprobs),
                    }
                    for i, c in enumerate(choices)
                ],
                "usage": usage,
            }
        )

    async def completions(self, body: CompletionRequest) -> Response:
        """POST /v1/completions: one or several prompts, ``n`` choices each."""
        engine, batcher = self.engine, self.batcher
        if body.stream:
            raise ApiError(
                400, "stream=true is only supported on /v1/chat/completions", param="stream"
            )
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if not prompts:
            raise ApiError(400, "prompt is empty", param="prompt")
        ids = [engine.encode(p) for p in prompts]
        reqs = [_gen_request(engine, body, p, body.logprobs) for p in ids]
        answers = await asyncio.gather(*(batcher.submit(r) for r in reqs))
        out: list[dict[str, Any]] = []
        n_prompt, all_choices = 0, []
        for text, p_ids, choices in zip(prompts, ids, answers, strict=True):
            n_prompt += len(p_ids)
            for c in choices:
                out.append(
                    {
                        "index": len(out),
                        "text": (text if body.echo else "") + c.text,
                        "finish_reason": c.finish_reason,
                        "logprobs": _legacy_logprobs(c.logprobs),
                    }
                )
                all_choices.append(c)
        return JSONResponse(
            {
                "id": f"cmpl-{uuid.uuid4().hex[:24]}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": self.model_name,
                "choices": out,
                "usage": _usage(n_prompt, all_choices),
            }
        )


async def _parse(request: Request, schema: type[_Sampling]) -> Any:
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from exc
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"])
        raise ApiError(400, f"{param}: {first['msg']}", param=param) from exc


def _gen_request(engine: Engine, body: _Sampling, prompt: list[int], top: int | None) -> GenRequest:
    """Check lengths against the context window and build the engine request."""
    if not prompt:
        raise ApiError(400, "the prompt renders to no tokens", param="messages")
    room = engine.context_length - len(prompt)
    if room < 1:
        raise ApiError(
            400,
            f"the prompt is {len(prompt)} tokens; the model's context is "
            f"{engine.context_length}",
            param="messages",
        )
    asked = body.max_completion_tokens or body.max_tokens
    max_tokens = min(asked or engine.max_tokens_cap, engine.max_tokens_cap, room)
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return GenRequest(
        prompt_ids=prompt,
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        n=body.n,
        stop=tuple(s for s in stop if s),
        top_logprobs=top,
    )


def _usage(prompt_tokens: int, choices: list[Choice]) -> dict[str, int]:
    completion = sum(c.completion_tokens for c in choices)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def _chat_logprobs(items: list[TokenLogprob] | None) -> dict[str, Any] | None:
    """Chat format: ``{"content": [{token, logprob, bytes, top_logprobs: [...]}]}``."""
    if items is None:
        return None
    return {
        "content": [
            {**_entry(t.token, t.logprob), "top_logprobs": [_entry(s, lp) for s, lp in t.top]}
            for t in items
        ]
    }


def _legacy_logprobs(items: list[TokenLogprob] | None) -> dict[str, Any] | None:
    """Completions format: parallel lists ``tokens``, ``token_logprobs``, ``top_logprobs``."""
    if items is None:
        return None
    offsets, pos = [], 0
    for t in items:
        offsets.append(pos)
        pos += len(t.token)
    return {
        "tokens": [t.token for t in items],
        "token_logprobs": [t.logprob for t in items],
        "top_logprobs": [dict(t.top) for t in items],
        "text_offset": offsets,
    }


def _stream_chat(
    rid: str, created: int, model: str, choices: list[Choice], usage: dict[str, int]
) -> StreamingResponse:
    """Send a finished answer as server-sent events (one content chunk per choice)."""

    def chunk(delta: dict[str, Any], index: int, reason: str | None) -> str:
        body = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": index, "delta": delta, "finish_reason": reason}],
        }
        return f"data: {json.dumps(body)}\n\n"

    async def events() -> AsyncIterator[str]:
        for i, c in enumerate(choices):
            yield chunk({"role": "assistant", "content": c.text}, i, None)
            yield chunk({}, i, c.finish_reason)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
