"""Models by spec string: the embedded SmolLM2, local paths, OpenAI and compatible servers."""

from flowpo.models.base import ModelStats, TargetLM
from flowpo.models.spec import DEFAULT_MODEL, ModelSpec, load_target, parse_spec

__all__ = ["DEFAULT_MODEL", "ModelSpec", "ModelStats", "TargetLM", "load_target", "parse_spec"]
