"""Retrying an OpenAI-compatible API: which faults to retry, how long to wait, counters."""

from __future__ import annotations

import json
import random

import openai

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


def retry_after(exc: BaseException) -> float | None:
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
