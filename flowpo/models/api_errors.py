"""What an OpenAI-compatible API's failures mean: ``ModelError``s that say what to check."""

from __future__ import annotations

import openai

from flowpo.errors import ModelError
from flowpo.models.retry import RETRYABLE


def model_error(
    exc: openai.APIError, *, url: str, where: str, model: str, timeout: float, max_retries: int
) -> ModelError:
    """Turn an openai client error into a ``ModelError`` that says what to check.

    Args:
        exc: The client's error.
        url: The API root the request went to.
        where: The model id the error is about.
        model: The model name as the server knows it.
        timeout: Seconds one request may take.
        max_retries: Retries made before giving up.
    """
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(
            f"request to {url} timed out after {timeout:g}s ({max_retries} retries)",
            where=where,
            field="timeout",
            fix=f"check the server is healthy (curl {url}/models) or raise timeout",
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(
            f"cannot connect to {url} ({root_cause(exc)}; {max_retries} retries)",
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
            f"{url} has no model '{model}' (HTTP 404): {exc.message}",
            where=where,
            field="model",
            fix=f"check the model name; curl {url}/models lists what the server serves",
        )
    if isinstance(exc, openai.RateLimitError):
        return ModelError(
            f"{url} is rate-limiting requests (HTTP 429) after {max_retries} retries",
            where=where,
            field="concurrency",
            fix="lower concurrency or raise max_retries",
        )
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    head = f"HTTP {status}" if status else type(exc).__name__
    tried = f" after {max_retries} retries" if isinstance(exc, RETRYABLE) else ""
    return ModelError(
        f"request to {url} failed ({head}){tried}: {exc.message}",
        where=where,
        fix="check the server log; the server may not support a request option",
    )


def not_json_error(url: str, where: str, max_retries: int) -> ModelError:
    """Return the error for an answer that is not JSON (a proxy or a web page answered)."""
    return ModelError(
        f"{url} answered with a body that is not JSON ({max_retries} retries)",
        where=where,
        field="base_url",
        fix="check that base_url points at the OpenAI-compatible API "
        "(usually ending in /v1), not at a proxy or web page",
    )


def root_cause(exc: BaseException) -> BaseException:
    """Return the innermost exception of a ``raise ... from`` chain."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc
