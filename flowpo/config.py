"""One configuration object per job; CLI flags and docs are generated from its fields.

Precedence: explicit argument > environment (``FLOWPO_<FIELD>``) > default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flowpo.errors import ConfigError
from flowpo.models.spec import DEFAULT_MODEL, parse_spec


class EvalConfig(BaseSettings):
    """Settings of one evaluation of a prompt on a task."""

    model_config = SettingsConfigDict(env_prefix="FLOWPO_", extra="forbid")

    task: str = Field(
        "sst2", description="Built-in task name (see 'flowpo tasks') or a JSONL/CSV data file."
    )
    prompt: str | None = Field(
        None, description="The instruction text (default: the task's manual prompt)."
    )
    prompt_file: Path | None = Field(
        None,
        description="A Markdown prompt file (headers are "
        "sections; YAML front matter may set template, verbalizers).",
    )
    split: Literal["train", "dev", "test", "pool"] = Field(
        "test", description="Which split to score."
    )
    limit: int | None = Field(None, ge=1, description="Score only the first N examples.")
    model: str = Field(
        DEFAULT_MODEL,
        description="Target model spec: local:smollm2-135m, "
        "local:/path, openai:<model>, openai-compatible:<url>#<model>.",
    )
    mode: Literal["auto", "verbalizer", "generate"] = Field(
        "auto", description="Scoring: label-word log-probs or decoding."
    )
    device: str = Field("auto", description="auto, cpu or cuda.")
    dtype: str = Field(
        "auto",
        description="auto (bfloat16 on CPUs with native bf16, else "
        "float32), float32, bfloat16 or float16.",
    )
    batch_size: int = Field(32, ge=1, description="Examples per forward pass.")
    max_new_tokens: int = Field(32, ge=1, description="Longest generation (generate mode).")
    cache: Path = Field(
        Path("runs/eval_cache.sqlite"),
        description="SQLite cache of per-example results (a repeated evaluation costs nothing).",
    )
    output: Path | None = Field(
        None,
        description="Where to write the JSON result (default: "
        "runs/eval-<task>-<split>-<prompt fingerprint>.json).",
    )
    seed: int | None = Field(
        None, description="LM-BFF data seed for few-shot splits (13, 21, 42, 87, 100)."
    )
    input_field: str = Field("input", description="Data file: input column(s), comma-separated.")
    target_field: str = Field("target", description="Data file: target column.")
    labels: str | None = Field(None, description="Data file: labels, comma-separated.")
    verbalizers: str | None = Field(
        None, description="Label words, comma-separated, in label order (overrides the task's)."
    )
    metric: str | None = Field(
        None, description="Data file: metric name (default accuracy or exact_match)."
    )
    template: str | None = Field(
        None, description="Template with {prompt} and {text} (default: the task's)."
    )

    @field_validator("model")
    @classmethod
    def _model_spec(cls, value: str) -> str:
        parse_spec(value)
        return value


def make_config(cls: type[BaseSettings], **kwargs: Any) -> BaseSettings:
    """Build a config, turning validation errors into ``ConfigError`` naming the field."""
    try:
        return cls(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "config"
        raise ConfigError(
            f"invalid value {err.get('input')!r}: {err['msg']}",
            field=field,
            fix=f"see 'flowpo --help' for {field}",
        ) from None
