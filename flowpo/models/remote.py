"""A target model behind an OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp, ...)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar, cast

import httpx
import openai
from langchain_core.messages import AIMessage, HumanMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from flowpo.errors import ConfigError, ModelError
from flowpo.models.base import TargetLM

_OPENAI_URL = "https://api.openai.com/v1"
_T = TypeVar("_T")
log = logging.getLogger(__name__)

RETRYABLE = (
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APIResponseValidationError,
    json.JSONDecodeError,
)
"""Faults worth a retry: timeouts and lost connections, HTTP 429, HTTP 5xx, and an answer
that is not a chat completion (a proxy's HTML error page)."""


def backoff_delay(
    attempt: int, base: float, cap: float, rng: random.Random, retry_after: float | None = None
) -> float:
    """Return seconds to wait before retry ``attempt`` (0-based): exponential, jittered.

    The delay is ``min(cap, base * 2**attempt)`` scaled by a random factor in [0.5, 1]
    ("equal jitter"), so clients that failed together do not retry together; a server's
    ``Retry-After`` is honoured when it asks for longer (still capped).
    """
    delay = min(cap, base * 2**attempt) * (0.5 + 0.5 * rng.random())
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay


def _retry_after(exc: BaseException) -> float | None:
    """Return the ``Retry-After`` seconds of an HTTP error response, if it names any."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        if response.headers.get("retry-after-ms") is not None:
            return float(response.headers["retry-after-ms"]) / 1000
        value = response.headers.get("retry-after")
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None


class RetryStats:
    """Counters of the faults a model met and retried (read by reports and tests)."""

    def __init__(self) -> None:
        """Start every counter at zero."""
        self.faults: dict[str, int] = {}
        self.retries = 0
        self.gave_up = 0

    def count(self, exc: BaseException) -> None:
        """Count one fault by kind (``timeout``, ``connection``, ``http_429``, ``http_5xx``)."""
        if isinstance(exc, openai.APITimeoutError):
            kind = "timeout"
        elif isinstance(exc, openai.APIConnectionError):
            kind = "connection"
        elif isinstance(exc, openai.APIStatusError):
            kind = f"http_{exc.status_code}"
        elif isinstance(exc, json.JSONDecodeError | openai.APIResponseValidationError):
            kind = "garbage"
        else:
            kind = type(exc).__name__
        self.faults[kind] = self.faults.get(kind, 0) + 1


class RemoteLM(TargetLM):
    """Score label words and generate text through an OpenAI-compatible chat endpoint.

    Every example is sent as one user message ``prefix + text``, one request per
    example, at most ``concurrency`` requests in flight. Label scoring asks for a
    single token with ``top_logprobs`` and reads the log-prob of each label word
    from that list, so the server must support ``logprobs`` (OpenAI and vLLM do).

    Args:
        model: Model name as the server knows it (``gpt-4o-mini``, ``Qwen/Qwen2.5-7B``).
        base_url: Root of a custom OpenAI-compatible API (``http://localhost:8000/v1``);
            ``None`` means the OpenAI API.
        api_key: API key; defaults to ``OPENAI_API_KEY``, or ``"EMPTY"`` for a custom
            ``base_url`` (local servers accept anything).
        concurrency: Most requests in flight at once.
        timeout: Seconds to wait for one request.
        max_retries: Retries per request after a timeout, a lost connection, HTTP 429 or
            HTTP 5xx (exponential backoff with jitter); then a ``ModelError``.
        top_logprobs: Alternatives requested per token when scoring labels.
        backoff: Seconds before the first retry (doubled each time, jittered).
        max_backoff: Longest wait between two retries, in seconds.

    Raises:
        ConfigError: On a bad setting, or no API key for the OpenAI API.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 4,
        top_logprobs: int = 20,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        """Check the settings and build the langchain-openai chat client."""
        super().__init__()
        where = f"RemoteLM({model!r})"
        if not model.strip():
            raise ConfigError("the model name is empty", where=where, field="model")
        for name, value, ok, need in (
            ("concurrency", concurrency, concurrency >= 1, ">= 1"),
            ("max_retries", max_retries, max_retries >= 0, ">= 0"),
            ("top_logprobs", top_logprobs, top_logprobs >= 1, ">= 1"),
            ("timeout", timeout, timeout > 0, "> 0 seconds"),
            ("backoff", backoff, backoff >= 0, ">= 0 seconds"),
            ("max_backoff", max_backoff, max_backoff >= backoff, ">= backoff"),
        ):
            if not ok:
                raise ConfigError(
                    f"{name} must be {need}, got {value}",
                    where=where,
                    field=name,
                    fix=f"pass {name} {need}",
                )
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if base_url is None:
                raise ConfigError(
                    "no API key for the OpenAI API",
                    where=where,
                    field="api_key",
                    fix="set the OPENAI_API_KEY environment variable (or pass api_key=...)",
                )
            key = "EMPTY"
        self.model = model
        self.base_url = base_url.rstrip("/") if base_url else None
        self.model_id = (
            f"openai-compatible:{self.base_url}#{model}" if self.base_url else f"openai:{model}"
        )
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.top_logprobs = top_logprobs
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_stats = RetryStats()
        self._rng = random.Random()
        self._api_key = key
        self._http = httpx.AsyncClient()
        self._chat = self._build_chat()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reopen = False
        self._semaphore = asyncio.Semaphore(concurrency)

    @property
    def url(self) -> str:
        """Return the API root requests go to (``OPENAI_API_BASE`` may set it)."""
        return (self._chat.openai_api_base or _OPENAI_URL).rstrip("/")

    def _build_chat(self) -> ChatOpenAI:
        """Build a chat client on this model's own HTTP connection pool."""
        return ChatOpenAI(
            model=self.model,
            base_url=self.base_url,
            api_key=SecretStr(self._api_key),
            temperature=0,
            timeout=self.timeout,
            max_retries=0,  # retried here, with jitter and counters (see _request)
            use_responses_api=False,
            http_async_client=self._http,
        )

    def _client(self) -> tuple[ChatOpenAI, asyncio.Semaphore]:
        """Return the chat client and semaphore for the running event loop.

        Connection pools and semaphores belong to one event loop, so both are
        rebuilt when the model is used from a new loop (e.g. a second ``asyncio.run``)
        or after ``aclose``.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._reopen or self._loop is not None:
                self._http = httpx.AsyncClient()
                self._chat = self._build_chat()
            self._loop, self._reopen = loop, False
            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._chat, self._semaphore

    def check_words(self, words: list[str]) -> None:
        """Reject empty label words; the remote tokenizer is unknown, so accept the rest.

        Raises:
            ModelError: If a word is empty or only whitespace.
        """
        for i, word in enumerate(words):
            if not word.strip():
                raise ModelError(
                    f"label word {i} ({word!r}) is empty",
                    where=self.model_id,
                    field="words",
                    fix="give every label a non-empty verbalizer word",
                )

    async def score_labels(
        self, prefix: str, texts: list[str], words: list[str]
    ) -> list[list[float]]:
        """Return, for each text, the first-token log-prob of each label word.

        A token matches a word when both are equal after stripping leading
        whitespace (case-sensitive), so ``" yes"`` and ``"yes"`` both count for
        ``yes``; the best matching log-prob wins. A word absent from the top
        ``top_logprobs`` tokens gets the floor ``min(top log-probs) - log(2)``:
        below every listed token, since its true log-prob is unknown but lower.
        Only the first token is read, so a word the server splits into several
        tokens only matches if its first token equals the whole word.

        Raises:
            ModelError: If the server returns no log-probs or a request fails.
        """
        self.check_words(words)
        try:
            messages = await self._gather(
                self._request(
                    prefix + text, max_tokens=1, logprobs=True, top_logprobs=self.top_logprobs
                )
                for text in texts
            )
        except ModelError as e:
            done: dict[int, AIMessage] = getattr(e, "partial", {})
            e.partial = {  # type: ignore[attr-defined]
                i: _label_scores(self._top_tokens(m), words) for i, m in done.items()
            }
            self.stats.examples += len(done)
            raise
        self.stats.examples += len(texts)
        return [_label_scores(self._top_tokens(m), words) for m in messages]

    async def generate(
        self, prefix: str, texts: list[str], *, max_new_tokens: int = 32
    ) -> list[str]:
        """Return a greedy continuation of ``prefix + text`` for each text.

        Raises:
            ModelError: If a request fails.
        """
        try:
            messages = await self._gather(
                self._request(prefix + text, max_tokens=max_new_tokens) for text in texts
            )
        except ModelError as e:
            done: dict[int, AIMessage] = getattr(e, "partial", {})
            e.partial = {i: str(m.text) for i, m in done.items()}  # type: ignore[attr-defined]
            self.stats.examples += len(done)
            raise
        self.stats.examples += len(texts)
        return [str(m.text) for m in messages]

    async def ping(self) -> None:
        """Send one tiny request to fail fast on a bad URL, key or model name.

        The request is not counted in ``stats``.

        Raises:
            ModelError: If the server cannot be reached or rejects the request.
        """
        await self._request("ping", max_tokens=1, count=False)

    async def aclose(self) -> None:
        """Close the open HTTP connections; a later call opens new ones.

        Call it before the event loop ends (e.g. at the end of the coroutine given
        to ``asyncio.run``) to avoid leaking sockets.
        """
        if self._loop in (None, asyncio.get_running_loop()):
            await self._http.aclose()
        self._loop, self._reopen = None, True

    async def _gather(self, requests: Iterable[Awaitable[_T]]) -> list[_T]:
        """Run requests concurrently; if some fail, let the others finish, then raise.

        The first failure is raised with ``partial``: ``{index: result}`` of the requests
        that succeeded, so a caller can save what was paid for. A cancellation (Ctrl-C)
        cancels every request at once.
        """
        tasks = [asyncio.ensure_future(r) for r in requests]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for r in results:
            if isinstance(r, BaseException):
                if isinstance(r, ModelError):
                    r.partial = {  # type: ignore[attr-defined]
                        i: x for i, x in enumerate(results) if not isinstance(x, BaseException)
                    }
                raise r
        return cast(list[_T], results)

    async def _request(self, content: str, *, count: bool = True, **kwargs: Any) -> AIMessage:
        """Send one user message (bounded by the semaphore), retrying transient faults.

        A timeout, a lost connection, HTTP 429 or 5xx is retried up to ``max_retries``
        times with jittered exponential backoff; the semaphore is released while waiting,
        so a backing-off request does not hold a slot. Other errors fail at once.
        """
        chat, semaphore = self._client()
        for attempt in range(self.max_retries + 1):
            try:
                async with semaphore:
                    message = await chat.ainvoke([HumanMessage(content=content)], **kwargs)
                break
            except RETRYABLE as exc:
                self.retry_stats.count(exc)
                if attempt == self.max_retries:
                    self.retry_stats.gave_up += 1
                    if isinstance(exc, json.JSONDecodeError):
                        raise ModelError(
                            f"{self.url} answered with a body that is not JSON "
                            f"({self.max_retries} retries)",
                            where=self.model_id,
                            field="base_url",
                            fix="check that base_url points at the OpenAI-compatible API "
                            "(usually ending in /v1), not at a proxy or web page",
                        ) from exc
                    raise self._model_error(exc) from exc
                self.retry_stats.retries += 1
                delay = backoff_delay(
                    attempt, self.backoff, self.max_backoff, self._rng, _retry_after(exc)
                )
                log.info("%s: %s; retry %d in %.2fs", self.model_id, exc, attempt + 1, delay)
                await asyncio.sleep(delay)
            except openai.APIError as exc:
                self.retry_stats.count(exc)
                raise self._model_error(exc) from exc
        else:  # pragma: no cover - the loop always breaks or raises
            raise AssertionError("unreachable")
        if count:
            self.stats.calls += 1
            usage = message.usage_metadata
            if usage:
                self.stats.tokens_in += usage.get("input_tokens", 0)
                self.stats.tokens_out += usage.get("output_tokens", 0)
        return message

    def _top_tokens(self, message: AIMessage) -> list[tuple[str, float]]:
        """Return the first generated token's alternatives as ``(token, logprob)`` pairs.

        Raises:
            ModelError: If the response carries no log-probs.
        """
        logprobs = message.response_metadata.get("logprobs")
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        pairs: list[tuple[str, float]] = []
        if content:
            first = content[0]
            for entry in [*(first.get("top_logprobs") or []), first]:
                if entry.get("token") is not None and entry.get("logprob") is not None:
                    pairs.append((str(entry["token"]), float(entry["logprob"])))
        if not pairs:
            raise ModelError(
                f"the endpoint {self.url} does not return log-probs for model "
                f"'{self.model}'; verbalizer scoring needs the next-token log-probs "
                "(request options logprobs/top_logprobs)",
                where=self.model_id,
                field="logprobs",
                fix="use a server that supports `logprobs` and `top_logprobs` "
                "(e.g. vLLM, or the OpenAI API), or switch the task to generation mode",
            )
        return pairs

    def _model_error(self, exc: openai.APIError) -> ModelError:
        """Turn an openai client error into a ``ModelError`` that says what to check."""
        url, where = self.url, self.model_id
        if isinstance(exc, openai.APITimeoutError):
            return ModelError(
                f"request to {url} timed out after {self.timeout:g}s ({self.max_retries} retries)",
                where=where,
                field="timeout",
                fix=f"check the server is healthy (curl {url}/models) or raise timeout",
            )
        if isinstance(exc, openai.APIConnectionError):
            return ModelError(
                f"cannot connect to {url} ({_root_cause(exc)}; {self.max_retries} retries)",
                where=where,
                field="base_url",
                fix=f"is the server running? try curl {url}/models, and check base_url",
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelError(
                f"{url} rejected the API key (HTTP {exc.status_code}): {exc.message}",
                where=where,
                field="api_key",
                fix="set a valid OPENAI_API_KEY (or pass api_key=...) for this server",
            )
        if isinstance(exc, openai.NotFoundError):
            return ModelError(
                f"{url} has no model '{self.model}' (HTTP 404): {exc.message}",
                where=where,
                field="model",
                fix=f"check the model name; curl {url}/models lists what the server serves",
            )
        if isinstance(exc, openai.RateLimitError):
            return ModelError(
                f"{url} is rate-limiting requests (HTTP 429) after {self.max_retries} retries",
                where=where,
                field="concurrency",
                fix="lower concurrency or raise max_retries",
            )
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        head = f"HTTP {status}" if status else type(exc).__name__
        tried = f" after {self.max_retries} retries" if isinstance(exc, RETRYABLE) else ""
        return ModelError(
            f"request to {url} failed ({head}){tried}: {exc.message}",
            where=where,
            fix="check the server log; the server may not support a request option",
        )


def _label_scores(pairs: list[tuple[str, float]], words: list[str]) -> list[float]:
    """Map each word to its best matching log-prob, or the floor if absent."""
    best: dict[str, float] = {}
    for token, logprob in pairs:
        key = token.lstrip()
        if logprob > best.get(key, -math.inf):
            best[key] = logprob
    floor = min(logprob for _, logprob in pairs) - math.log(2)
    return [best.get(word.lstrip(), floor) for word in words]


def _root_cause(exc: BaseException) -> BaseException:
    """Return the innermost exception of a ``raise ... from`` chain."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc
