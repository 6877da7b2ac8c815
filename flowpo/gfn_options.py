"""The GFlowPO sampler's settings (methods ``gflowpo`` and ``hybrid``; the authors' defaults).

A mixin of :class:`flowpo.config.OptimizeConfig`: every field is a ``--gfn-*`` flag there.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class GfnOptions(BaseModel):
    """GFlowPO's prompt-LM, LoRA, training and sampling settings (GFlowPO paper defaults)."""

    gfn_model: str = Field(
        "smollm2-135m",
        description="Prompt-LM trained by GFlowPO: the embedded model name, a local "
        "causal-LM directory or a .gguf file.",
    )
    gfn_dtype: str = Field("float32", description="Prompt-LM dtype (float32 trains stably).")
    gfn_lora_r: int = Field(16, ge=1, description="LoRA rank (paper: 16).")
    gfn_lora_alpha: int = Field(32, ge=1, description="LoRA alpha (paper: 32).")
    gfn_lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout (paper: 0.05).")
    gfn_lora_targets: str = Field(
        "q_proj,v_proj", description="Comma-separated module names LoRA adapts (paper: q,v)."
    )
    gfn_lr: float = Field(1e-4, gt=0, description="AdamW learning rate (paper: 1e-4).")
    gfn_grad_clip: float = Field(1.0, gt=0, description="Gradient-norm clip (paper: 1.0).")
    gfn_batch_size: int = Field(4, ge=1, description="Prompts per micro-batch (paper: 4).")
    gfn_grad_accum: int = Field(4, ge=1, description="Micro-batches per update (paper: 4).")
    gfn_warmup_steps: int | None = Field(
        None,
        ge=0,
        description="Steps that only fill the replay buffer, no gradient (paper: 99 of 200). "
        "Default: a quarter of the steps the run can afford, at most 99, so a run at its "
        "defaults makes gradient updates.",
    )
    gfn_steps_per_epoch: int | None = Field(
        None,
        ge=1,
        description="GFlowPO steps per epoch (gflowpo) or per planned 'gfn' action (hybrid). "
        "Default: gflowpo 20 (10 epochs x 20 = the paper's 200), fewer when the example "
        "budget cannot pay for them; hybrid 2 (one action costs about as much as an "
        "operator's few prompts).",
    )
    gfn_online_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Chance a micro-batch is freshly sampled, else replayed (paper: 0.5; "
        "1.0 = on-policy only).",
    )
    gfn_replay_size: int = Field(1000, ge=1, description="Replay buffer size (paper: 1000).")
    gfn_queue_size: int = Field(5, ge=1, description="DMU priority queue size (paper: 5).")
    gfn_dmu: bool = Field(True, description="Dynamic Memory Update of the meta-prompt.")
    gfn_dmu_start: int = Field(110, ge=1, description="First step with DMU references (~110).")
    gfn_beta: float | None = Field(
        None, gt=0, description="Accuracy reward temperature beta (default 1/|D|)."
    )
    gfn_gamma: float = Field(1.0, gt=0, description="Prior temperature gamma (paper: 1).")
    gfn_log_z_decay: float = Field(0.99, ge=0, lt=1, description="EMA decay of log Z (0.99).")
    gfn_temp_min: float = Field(0.5, gt=0, description="Lowest sampling temperature (0.5).")
    gfn_temp_max: float = Field(2.0, gt=0, description="Highest sampling temperature (2.0).")
    gfn_top_p: float = Field(0.9, gt=0, le=1, description="Nucleus sampling top-p (0.9).")
    gfn_max_tokens: int = Field(150, ge=4, description="Longest sampled instruction (~150).")
    gfn_n_demos: int = Field(5, ge=1, description="Demonstrations in the meta-prompt (5).")
