"""GFlowPO training on the real embedded prompt-LM: one step, resume, and learning a reward."""

import asyncio
import math

import pytest
import torch

from flowpo.gfn.prompt_lm import load_prompt_lm
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
    lora2, _ = _split(other.model)
    assert all(torch.equal(lora1[k], lora2[k]) for k in lora1)
