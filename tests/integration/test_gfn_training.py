"""GFlowPO training on the real embedded prompt-LM: one step, resume, and learning a reward."""

import asyncio
import collections
import math
import random
import re

import pytest
import torch

from flowpo.gfn.prompt_lm import load_prompt_lm, sample
from flowpo.gfn.settings import GfnSettings
from flowpo.gfn.trainer import GfnTrainer

pytestmark = pytest.mark.slow

DEMOS = [("a gripping, beautifully acted film", "yes"), ("a dull and lifeless mess", "no")]


def _settings(**kw):
    base = dict(
        batch_size=4, grad_accum=1, warmup_steps=0, max_tokens=10, n_demos=1, dmu=False, seed=3
    )
    return GfnSettings(**{**base, **kw})


@pytest.fixture(scope="module")
def lms():
    """Two prompt-LMs with fresh adapters over one load of the embedded model."""
    torch.manual_seed(0)
    return load_prompt_lm(_settings()), load_prompt_lm(_settings())


def _split(model):
    lora = {k: v.detach().clone() for k, v in model.named_parameters() if "lora_" in k}
    base = {k: v.detach().clone() for k, v in model.named_parameters() if "lora_" not in k}
    return lora, base


async def _varied(texts):
    # with the adapter at its start q = p_ref, so equal accuracies would give zero loss
    return [0.2 + 0.6 * (i % 2) for i in range(len(texts))]


def test_one_step_is_finite_and_moves_only_the_adapter(lms, tmp_path):
    trainer = GfnTrainer(_settings(online_ratio=1.0), DEMOS, reward_size=32, model=lms[0])
    lora0, base0 = _split(trainer.model)
    report = asyncio.run(trainer.astep(_varied))
    assert report.loss is not None and math.isfinite(report.loss) and report.loss > 0
    assert trainer.log_z is not None and math.isfinite(trainer.log_z)
    lora1, base1 = _split(trainer.model)
    assert any(not torch.equal(lora0[k], lora1[k]) for k in lora0)
    assert all(torch.equal(base0[k], base1[k]) for k in base0)
    # resume: state and adapter round-trip into another prompt-LM
    trainer.save_adapter(tmp_path / "a.safetensors")
    other = GfnTrainer(_settings(), DEMOS, reward_size=32, model=lms[1])
    other.load_state(trainer.state_dict(), tmp_path / "a.safetensors")
    assert (other.step, other.log_z) == (trainer.step, trainer.log_z)
    assert other.replay.to_dict() == trainer.replay.to_dict()
    # AdamW's moments come back too, so the next update is the one the run would have made
    for mine, theirs in zip(trainer.params, other.params, strict=True):
        a, b = trainer.opt.state[mine], other.opt.state[theirs]
        assert set(a) == set(b) == {"step", "exp_avg", "exp_avg_sq"}
        assert all(torch.equal(a[k], b[k]) for k in a)
    lora2, _ = _split(other.model)
    assert all(torch.equal(lora1[k], lora2[k]) for k in lora1)


def _samples(trainer, seed, n_batches=6):
    torch.manual_seed(seed)
    prefix = trainer.prefix(random.Random(0), dmu=False)  # one fixed meta-prompt
    out = []
    for _ in range(n_batches):
        out += sample(
            trainer.model, trainer.tokenizer, prefix, 8, temperature=1.0, top_p=0.9, max_tokens=10
        )
    return [set(re.findall(r"[a-z]{4,}", t.lower())) for t in out]


def _pick_word(docs):
    """Return the word closest to a quarter of the probe samples (learnable, not saturated)."""
    counts = collections.Counter(w for d in docs for w in d)
    return min(sorted(counts), key=lambda w: abs(counts[w] / len(docs) - 0.25))


def test_training_on_a_word_reward_raises_its_frequency(lms):
    # Tuned on the embedded model: lr 1e-3 (Adam steps of 3e-3 overshot), temperature fixed
    # at 1 (the [0.5, 2] draws make early samples noise), half the micro-batches replayed
    # from the top-accuracy buffer, which is what spreads a rare rewarded sample.
    settings = _settings(
        batch_size=8, lr=1e-3, beta=0.5, online_ratio=0.5, temp_min=1.0, temp_max=1.0
    )
    trainer = GfnTrainer(settings, DEMOS[:1], reward_size=32, model=lms[1])
    with torch.no_grad():  # back to q = p_ref (LoRA's B starts at zero) after the test above
        for name, param in trainer.model.named_parameters():
            if "lora_B" in name:
                param.zero_()
    word = _pick_word(_samples(trainer, seed=7))  # chosen on samples not used below

    async def reward(texts):
        return [1.0 if word in re.findall(r"[a-z]{4,}", t.lower()) else 0.0 for t in texts]

    before = _samples(trainer, seed=123)
    for _ in range(8):
        asyncio.run(trainer.astep(reward))
    after = _samples(trainer, seed=123)
    h0, n0 = sum(word in d for d in before), len(before)
    h1, n1 = sum(word in d for d in after), len(after)
    # one-sided two-proportion z test at the 1% level
    p = (h0 + h1) / (n0 + n1)
    z = (h1 / n1 - h0 / n0) / math.sqrt(max(p * (1 - p), 1e-12) * (1 / n0 + 1 / n1))
    assert z > 2.33, (word, h0, n0, h1, n1)
