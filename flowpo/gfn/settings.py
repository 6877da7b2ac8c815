"""GFlowPO's knobs in one place, with the authors' defaults.

The defaults follow the GFlowPO paper's experimental setup (arXiv 2602.03358); README,
"GFlowPO sampler", lists them with the flags that change them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from flowpo.config import OptimizeConfig
from flowpo.errors import ConfigError

PAPER_WARMUP = 99
"""The paper's warm-up: 99 of its 200 steps only fill the replay buffer."""
GFLOWPO_STEPS_PER_EPOCH = 20
"""Steps per epoch of ``gflowpo`` (10 epochs x 20 = the paper's 200 steps)."""
HYBRID_STEPS_PER_ACTION = 2
"""Steps per planned ``gfn`` action in ``hybrid``: warm-up, then an update."""


def step_cost(batch_size: int, grad_accum: int, reward_size: int) -> int:
    """Return the most target-LM examples one step may score: every sample fresh."""
    return batch_size * grad_accum * reward_size


def step_plan(config: Any, reward_size: int) -> tuple[int, int]:
    """Return (steps per epoch or per ``gfn`` action, warm-up steps) the run can afford.

    Explicit ``gfn_steps_per_epoch`` / ``gfn_warmup_steps`` win. Otherwise ``gflowpo``
    plans ``max_epochs x 20`` steps, fewer when ``budget_examples`` cannot pay for them (a
    step scores at most ``batch x grad_accum`` fresh samples on the reward set), and warms
    up for a quarter of them (at most the paper's 99), so its first update comes early and
    most steps learn. ``hybrid`` runs 2 steps per planned ``gfn`` action and warms up for
    one, so its second step already updates.
    """
    hybrid = bool(getattr(config.method_spec, "sampler_action", False))
    per = config.gfn_steps_per_epoch or (
        HYBRID_STEPS_PER_ACTION if hybrid else GFLOWPO_STEPS_PER_EPOCH
    )
    total = per * config.max_epochs
    if config.budget_examples is not None and config.gfn_steps_per_epoch is None and not hybrid:
        cost = step_cost(config.gfn_batch_size, config.gfn_grad_accum, max(1, reward_size))
        total = max(2, min(total, config.budget_examples // cost))
        per = max(1, total // config.max_epochs)
    if config.gfn_warmup_steps is not None:
        return per, config.gfn_warmup_steps
    warmup = 1 if hybrid else min(PAPER_WARMUP, max(1, total // 4))
    return per, warmup


def _default(name: str) -> Any:
    """Return the default of ``OptimizeConfig.gfn_<name>``: the authors' values live there."""
    return OptimizeConfig.model_fields[f"gfn_{name}"].default


@dataclass(frozen=True, kw_only=True)
class GfnSettings:
    """Settings of the prompt-LM and its training; ``OptimizeConfig.gfn_*`` fill them.

    The defaults are those fields' defaults (their descriptions cite the paper), so the
    two cannot drift apart; ``device``, ``seed`` and the DMU reference counts are the
    settings' own.
    """

    model: str = _default("model")
    """Prompt-LM: the embedded model's name, a local model directory or a .gguf file."""
    device: str = "auto"
    dtype: str = _default("dtype")
    lora_r: int = _default("lora_r")
    lora_alpha: int = _default("lora_alpha")
    lora_dropout: float = _default("lora_dropout")
    lora_targets: str = _default("lora_targets")
    lr: float = _default("lr")
    grad_clip: float = _default("grad_clip")
    batch_size: int = _default("batch_size")
    """Prompts per micro-batch."""
    grad_accum: int = _default("grad_accum")
    """Micro-batches per optimizer update."""
    warmup_steps: int = PAPER_WARMUP
    """Steps that only fill the replay buffer (no gradient)."""
    online_ratio: float = _default("online_ratio")
    """Chance a micro-batch is freshly sampled (1.0 = on-policy only)."""
    replay_size: int = _default("replay_size")
    queue_size: int = _default("queue_size")
    dmu: bool = _default("dmu")
    dmu_start: int = _default("dmu_start")
    """First step whose meta-prompt carries reference instructions."""
    dmu_queue_refs: int = 1
    dmu_replay_refs: int = 2
    beta: float | None = _default("beta")
    """Reward temperature of accuracy; None = 1/|D|."""
    gamma: float = _default("gamma")
    log_z_decay: float = _default("log_z_decay")
    temp_min: float = _default("temp_min")
    temp_max: float = _default("temp_max")
    top_p: float = _default("top_p")
    max_tokens: int = _default("max_tokens")
    n_demos: int = _default("n_demos")
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
    def from_config(cls, config: Any, reward_size: int = 32) -> GfnSettings:
        """Read the ``gfn_*`` fields of an ``OptimizeConfig`` (and its seed).

        The warm-up is the one :func:`step_plan` derives for a reward set of
        ``reward_size`` examples when the config leaves it unset.
        """
        values = {
            f.name: getattr(config, f"gfn_{f.name}")
            for f in fields(cls)
            if hasattr(config, f"gfn_{f.name}")
        }
        values["warmup_steps"] = step_plan(config, reward_size)[1]
        if hasattr(config, "device"):
            values["device"] = config.device
        return cls(**values, seed=int(getattr(config, "seed", 0)))
