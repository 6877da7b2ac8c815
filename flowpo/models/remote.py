"""A target model behind an OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp, ...).

Retries and their counters live in :mod:`flowpo.models.retry`, the meaning of API errors
in :mod:`flowpo.models.api_errors`, label scoring from log-probs in
:mod:`flowpo.models.logprobs`.
"""

from __future__ import annotations

import asyncio
import json
import logging
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
from flowpo.models.api_errors import model_error, not_json_error
from flowpo.models.base import TargetLM
from flowpo.models.logprobs import label_scores, top_tokens
from flowpo.models.retry import RETRYABLE, RetryStats, backoff_delay, retry_after

_OPENAI_URL = "https://api.openai.com/v1"
_T = TypeVar("_T")
log = logging.getLogger(__name__)


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
        _check_settings(
            where,
            model,
            concurrency=concurrency,
            max_retries=max_retries,
            top_logprobs=top_logprobs,
            timeout=timeout,
            backoff=backoff,
            max_backoff=max_backoff,
        )
        key = _api_key(api_key, base_url, where)
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
        several = [w for w in words if len(w.split()) > 1]
        if several and not getattr(self, "_warned_words", False):
            self._warned_words = True
            log.warning(
                "%s: label words %s are several words; a remote target is scored on the first "
                "token only (give one-token words, or a local target, which scores sequences)",
                self.model_id,
                several,
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
                i: label_scores(self._top_tokens(m), words) for i, m in done.items()
            }
            self.stats.examples += len(done)
            raise
        self.stats.examples += len(texts)
        return [label_scores(self._top_tokens(m), words) for m in messages]

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

    async def check_logprobs(self) -> None:
        """Send one tiny log-prob request; fail before any work if log-probs are missing.

        Raises:
            ModelError: If the server cannot be reached or returns no log-probs.
        """
        message = await self._request(
            "ping", max_tokens=1, logprobs=True, top_logprobs=self.top_logprobs, count=False
        )
        self._top_tokens(message)

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
                        error = not_json_error(self.url, self.model_id, self.max_retries)
                        raise error from exc
                    raise self._model_error(exc) from exc
                self.retry_stats.retries += 1
                delay = backoff_delay(
                    attempt, self.backoff, self.max_backoff, self._rng, retry_after(exc)
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
        """Return the first token's ``(token, logprob)`` alternatives (ModelError if none)."""
        return top_tokens(message, url=self.url, model=self.model, where=self.model_id)

    def _model_error(self, exc: openai.APIError) -> ModelError:
        """Turn an openai client error into a ``ModelError`` that says what to check."""
        return model_error(
            exc,
            url=self.url,
            where=self.model_id,
            model=self.model,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )


def _check_settings(
    where: str,
    model: str,
    *,
    concurrency: int,
    max_retries: int,
    top_logprobs: int,
    timeout: float,
    backoff: float,
    max_backoff: float,
) -> None:
    """Raise ``ConfigError`` naming the first setting out of range (or an empty model)."""
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


def _api_key(api_key: str | None, base_url: str | None, where: str) -> str:
    """Return the key to send: given, ``OPENAI_API_KEY``, or ``"EMPTY"`` for a custom server."""
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
    return key
