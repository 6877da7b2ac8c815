"""GFlowPO training: warm-up, off-policy micro-batches with replay, VarGrad, DMU.

One :meth:`GfnTrainer.astep` is one optimizer update of ``grad_accum`` micro-batches of
``batch_size`` prompts (during warm-up: the same sampling and scoring, no gradient).
All state that must survive a restart is plain data (:meth:`state_dict`) plus the
adapter's weights (safetensors).
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from flowpo.errors import DataError
from flowpo.gfn import prompt_lm
from flowpo.gfn.buffers import ReplayBuffer, TopQueue
from flowpo.gfn.metaprompt import meta_messages, render
from flowpo.gfn.objective import log_reward, vargrad_loss
from flowpo.gfn.settings import GfnSettings

Scorer = Callable[[list[str]], Awaitable[list[float]]]
"""Accuracy on the reward set of each instruction text (cached by the caller)."""


@dataclass
class StepReport:
    """What one step did (for history rows and benchmarks)."""

    step: int
    loss: float | None
    log_z: float | None
    fresh: list[tuple[str, float]] = field(default_factory=list)
    replayed: int = 0
    temperature: float = 0.0


def optimizer_path(adapter: Path) -> Path:
    """Return where AdamW's moments are kept next to the adapter file."""
    return adapter.with_name(adapter.stem + ".optimizer.safetensors")


class GfnTrainer:
    """The prompt-LM and everything GFlowPO learns or remembers about it."""

    def __init__(
        self,
        settings: GfnSettings,
        demos: Sequence[tuple[str, str]],
        reward_size: int,
        *,
        model: tuple[Any, Any] | None = None,
        extra_refs: Sequence[str] = (),
    ) -> None:
        """Load the prompt-LM (or take ``model``) and check the data fits the settings.

        Args:
            settings: The knobs.
            demos: (input, output) pairs disjoint from the reward set.
            reward_size: |D|, the reward set's size (sets beta = 1/|D| by default).
            model: An already loaded (tokenizer, peft model), for tests and benchmarks.
            extra_refs: Diverse past prompts (experience memory) DMU may also draw.
        """
        if reward_size < settings.batch_size:
            raise DataError(
                f"the reward set has {reward_size} examples, fewer than the batch of "
                f"{settings.batch_size} prompts",
                field="gfn_batch_size",
                fix="lower --gfn-batch-size or give the task a larger train split",
            )
        if len(demos) < 1:
            raise DataError(
                "no demonstrations for the meta-prompt (the pool split is empty)",
                field="split",
                fix="give the task a 'pool' split disjoint from the reward set",
            )
        self.s = settings
        self.demos = list(demos)
        self.beta = settings.beta if settings.beta is not None else 1.0 / reward_size
        self.tokenizer, self.model = model or prompt_lm.load_prompt_lm(settings)
        render(self.tokenizer, "check")  # fail early without a chat template
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=settings.lr)
        self.extra_refs = [r for r in extra_refs if r.strip()]
        self.replay = ReplayBuffer(settings.replay_size)
        self.queue = TopQueue(settings.queue_size)
        self.log_z: float | None = None
        self.step = 0

    # ---- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Return the plain-data state (replay, queue, EMA log Z, step)."""
        return {
            "step": self.step,
            "log_z": self.log_z,
            "replay": self.replay.to_dict(),
            "queue": self.queue.to_dict(),
        }

    def load_state(self, state: dict[str, Any], adapter: Path | None = None) -> None:
        """Continue from a saved state and, when given, adapter weights."""
        self.step = int(state.get("step", 0))
        self.log_z = state.get("log_z")
        self.replay = ReplayBuffer.from_dict(state.get("replay"), self.s.replay_size)
        self.queue = TopQueue.from_dict(state.get("queue"), self.s.queue_size)
        if adapter is not None and adapter.is_file():
            prompt_lm.load_adapter(self.model, adapter)
            moments = optimizer_path(adapter)
            if moments.is_file():
                self._load_optimizer(moments)

    def save_adapter(self, path: Path) -> None:
        """Write the adapter, and AdamW's moments next to it, as safetensors."""
        prompt_lm.save_adapter(self.model, path)
        tensors = {
            f"{i}.{key}": value.detach().cpu().contiguous()
            for i, param in enumerate(self.params)
            for key, value in self.opt.state.get(param, {}).items()
            if isinstance(value, torch.Tensor)
        }
        metadata = {"params": str(len(self.params))}
        prompt_lm.save_tensors(tensors, optimizer_path(path), metadata)

    def _load_optimizer(self, path: Path) -> None:
        """Restore AdamW's moments saved by :meth:`save_adapter` (same adapter layout)."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("params") != str(len(self.params)):
                return  # another adapter layout (other rank or targets): start fresh
            for name in f.keys():
                index, key = name.split(".", 1)
                param = self.params[int(index)]
                self.opt.state[param][key] = f.get_tensor(name).to(param.device)

    # ---- meta-prompt ----------------------------------------------------------------
    def prefix(self, rng: random.Random, *, dmu: bool) -> list[int]:
        """Return the token ids of M: fresh demonstrations, and references under DMU."""
        demos = rng.sample(self.demos, min(self.s.n_demos, len(self.demos)))
        refs: list[str] = []
        if dmu:
            for _ in range(self.s.dmu_queue_refs):
                top = self.queue.draw(rng)
                if top is not None and top not in refs:
                    refs.append(top)
            snapshot = [t for t, _ in self.replay.sample(self.s.dmu_replay_refs * 2, rng)]
            pool = list(dict.fromkeys([*snapshot, *self.extra_refs]))
            rng.shuffle(pool)
            refs += [t for t in pool if t not in refs][: self.s.dmu_replay_refs]
        text = render(self.tokenizer, meta_messages(demos, refs))
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    # ---- one step -------------------------------------------------------------------
    async def astep(self, score: Scorer) -> StepReport:
        """Run one step: ``grad_accum`` micro-batches, then (after warm-up) one update."""
        s = self.s
        self.step += 1
        rng = random.Random(f"{s.seed}-gfn-{self.step}")
        torch.manual_seed(rng.randrange(2**31))
        warm = self.step <= s.warmup_steps
        dmu = s.dmu and self.step >= s.dmu_start
        report = StepReport(self.step, None, self.log_z)
        report.temperature = rng.uniform(s.temp_min, s.temp_max)
        losses = []
        if not warm:
            self.model.train()
            self.opt.zero_grad(set_to_none=True)
        for _ in range(s.grad_accum):
            prefix = self.prefix(rng, dmu=dmu)
            replay = not warm and len(self.replay) > 0 and rng.random() >= s.online_ratio
            texts: list[str]
            accs: list[float]
            if replay:
                picked = self.replay.sample(s.batch_size, rng)
                texts, accs = [t for t, _ in picked], [a for _, a in picked]
                report.replayed += len(texts)
            else:
                self.model.eval()
                texts = prompt_lm.sample(
                    self.model,
                    self.tokenizer,
                    prefix,
                    s.batch_size,
                    temperature=report.temperature,
                    top_p=s.top_p,
                    max_tokens=s.max_tokens,
                )
                texts = [t if t else "." for t in texts]
                accs = await score(texts)
                for t, a in zip(texts, accs, strict=True):
                    self.replay.add(t, a)  # only fresh samples enter the buffer
                report.fresh += list(zip(texts, accs, strict=True))
            best = max(range(len(texts)), key=lambda i: accs[i])
            self.queue.offer(texts[best], accs[best])
            if not warm:
                losses.append(self._accumulate(prefix, texts, accs))
        if not warm:
            torch.nn.utils.clip_grad_norm_(self.params, s.grad_clip)
            self.opt.step()
            self.model.eval()
            report.loss = sum(losses) / len(losses)
        report.log_z = self.log_z
        return report

    def _accumulate(self, prefix: list[int], texts: list[str], accs: list[float]) -> float:
        """Add one micro-batch's VarGrad gradient; return its loss."""
        seqs = prompt_lm.encode_texts(self.tokenizer, texts)
        pad = int(self.tokenizer.pad_token_id)
        log_ref = prompt_lm.reference_logprobs(self.model, prefix, seqs, pad)  # [B]
        self.model.train()
        log_q = prompt_lm.policy_logprobs(self.model, prefix, seqs, pad)  # [B]
        acc = torch.tensor(accs, dtype=log_q.dtype, device=log_q.device)
        log_r = log_reward(log_ref.to(log_q.dtype), acc, beta=self.beta, gamma=self.s.gamma)
        loss, self.log_z = vargrad_loss(log_q, log_r, self.log_z, decay=self.s.log_z_decay)
        (loss / self.s.grad_accum).backward()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"GFlowPO loss is {value} at step {self.step}")
        return value
