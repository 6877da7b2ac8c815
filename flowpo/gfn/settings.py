"""GFlowPO's knobs in one place, with the authors' defaults (see gflowpo-method.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from flowpo.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class GfnSettings:
    """Settings of the prompt-LM and its training; ``OptimizeConfig.gfn_*`` fill them."""

    model: str = "smollm2-135m"
    """Prompt-LM: the embedded model's name, a local model directory or a .gguf file."""
    device: str = "auto"
    dtype: str = "float32"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: str = "q_proj,v_proj"
    lr: float = 1e-4
    grad_clip: float = 1.0
    batch_size: int = 4
    """Prompts per micro-batch."""
    grad_accum: int = 4
    """Micro-batches per optimizer update."""
    warmup_steps: int = 99
    """Steps that only fill the replay buffer (no gradient)."""
    online_ratio: float = 0.5
    """Chance a micro-batch is freshly sampled (1.0 = on-policy only)."""
    replay_size: int = 1000
    queue_size: int = 5
    dmu: bool = True
    dmu_start: int = 110
    """First step whose meta-prompt carries reference instructions."""
    dmu_queue_refs: int = 1
    dmu_replay_refs: int = 2
    beta: float | None = None
    """Reward temperature of accuracy; None = 1/|D|."""
    gamma: float = 1.0
    log_z_decay: float = 0.99
    temp_min: float = 0.5
    temp_max: float = 2.0
    top_p: float = 0.9
    max_tokens: int = 150
    n_demos: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        """Reject settings the method cannot run with."""
        if self.beta is not None and self.beta <= 0:
            raise ConfigError(
                f"beta must be positive, got {self.beta}",
                field="gfn_beta",
                fix="leave it unset (1/|D|) or give a positive number such as 0.05",
            )
        if self.gamma <= 0:
            raise ConfigError(
                f"gamma must be positive, got {self.gamma}", field="gfn_gamma", fix="use e.g. 1.0"
            )
        if not 0.0 <= self.online_ratio <= 1.0:
            raise ConfigError(
                "online_ratio must lie in [0, 1]", field="gfn_online_ratio", fix="use e.g. 0.5"
            )
        if not 0 < self.temp_min <= self.temp_max:
            raise ConfigError(
                "the sampling temperature range is empty",
                field="gfn_temp_min",
                fix="use 0 < gfn_temp_min <= gfn_temp_max",
            )

    @classmethod
    def from_config(cls, config: Any) -> GfnSettings:
        """Read the ``gfn_*`` fields of an ``OptimizeConfig`` (and its seed)."""
        values = {
            f.name: getattr(config, f"gfn_{f.name}")
            for f in fields(cls)
            if hasattr(config, f"gfn_{f.name}")
        }
        if hasattr(config, "device"):
            values["device"] = config.device
        return cls(**values, seed=int(getattr(config, "seed", 0)))
