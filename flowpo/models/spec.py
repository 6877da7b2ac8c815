"""Model spec strings: ``local:<name>``, ``openai:<model>``, ``openai-compatible:<url>#<model>``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowpo.errors import ConfigError
from flowpo.models.base import TargetLM
from flowpo.models.embedded import EMBEDDED_NAME

DEFAULT_MODEL = f"local:{EMBEDDED_NAME}"
_FORMS = (
    f"'local:{EMBEDDED_NAME}', 'local:/path/to/model', 'openai:gpt-4o-mini', "
    "'openai-compatible:http://127.0.0.1:8000/v1#Qwen2.5-7B'"
)


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec."""

    provider: str
    """``local``, ``openai`` or ``openai-compatible``."""
    model: str
    """Model name or local path."""
    base_url: str | None = None
    """Endpoint of an OpenAI-compatible server."""


def parse_spec(spec: str) -> ModelSpec:
    """Parse a model spec string, or raise ``ConfigError`` showing the accepted forms."""
    provider, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ConfigError(f"unknown model spec {spec!r}", field="model", fix=f"use one of {_FORMS}")
    if provider == "local":
        return ModelSpec("local", rest)
    if provider == "openai":
        return ModelSpec("openai", rest)
    if provider == "openai-compatible":
        url, hash_, model = rest.rpartition("#")
        if not hash_ or not url.startswith(("http://", "https://")) or not model:
            raise ConfigError(
                f"bad OpenAI-compatible spec {spec!r}",
                field="model",
                fix="write 'openai-compatible:<base_url>#<model>', e.g. "
                "'openai-compatible:http://127.0.0.1:8000/v1#Qwen2.5-7B'",
            )
        return ModelSpec("openai-compatible", model, url)
    raise ConfigError(
        f"unknown model provider {provider!r} in {spec!r}",
        field="model",
        fix=f"use one of {_FORMS}",
    )


def load_target(spec: str = DEFAULT_MODEL, **options: Any) -> TargetLM:
    """Return the target model for ``spec``.

    Args:
        spec: A model spec string.
        **options: Backend options: ``device``, ``dtype``, ``batch_size`` for local models;
            ``concurrency``, ``timeout`` for remote ones. Options of the other kind are ignored.
    """
    parsed = parse_spec(spec)
    if parsed.provider == "local":
        from flowpo.models.local import LocalLM

        keys = ("device", "dtype", "batch_size", "prefix_cache")
        return LocalLM(parsed.model, **{k: v for k, v in options.items() if k in keys})
    from flowpo.models.remote import RemoteLM

    remote_keys = ("concurrency", "timeout", "max_retries", "api_key", "backoff")
    return RemoteLM(
        parsed.model,
        base_url=parsed.base_url,
        **{k: v for k, v in options.items() if k in remote_keys},
    )


def scoring_path(model: str, *, program: str | None = None) -> str:
    """Say how a run's target scores a prompt: through a chat template, or on the raw text.

    A local model is scored on the raw text (prompt + frame); the same model behind an
    ``openai:``/``openai-compatible:`` endpoint (``flowpo serve-model``) is scored through
    the server's chat template, so the same prompt can score differently on the two paths.
    """
    if program:
        return "chat template: the program's chat model runs its chat prompt"
    if parse_spec(model).provider == "local":
        return "raw text: prompt + frame, no chat template (local model)"
    return (
        "chat template: the remote endpoint wraps prompt + frame in its chat template; "
        "a local: run of the same model scores the raw text, so compare runs on one path"
    )
