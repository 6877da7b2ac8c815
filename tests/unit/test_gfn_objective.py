"""GFlowPO learning math (VarGrad with EMA log Z), buffers and bad settings."""

import math
import random

import pytest
import torch

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, DataError, ModelError
from flowpo.gfn import (
    GfnSettings,
    ReplayBuffer,
    TopQueue,
    log_reward,
    residual,
    squared_penalty,
    update_log_z,
    vargrad_loss,
)
from flowpo.gfn.metaprompt import PREFILL, meta_messages, render
from flowpo.gfn.trainer import GfnTrainer

LOG_Q = torch.tensor([-10.0, -12.0, -8.0], dtype=torch.float64)
LOG_REF = torch.tensor([-11.0, -13.0, -9.0], dtype=torch.float64)
ACC = torch.tensor([0.5, 0.25, 1.0], dtype=torch.float64)


def test_log_reward_by_hand():
    log_r = log_reward(LOG_REF, ACC, beta=0.5, gamma=1.0)
    expected = [-11 + 2 * math.log(0.5 + 1e-8), -13 + 2 * math.log(0.25 + 1e-8), -9.0 + 2e-8]
    assert log_r.tolist() == pytest.approx(expected, abs=1e-9)
    assert log_reward(LOG_REF, ACC, beta=1.0, gamma=2.0)[2].item() == pytest.approx(-4.5)


def test_vargrad_first_update_is_the_batch_variance():
    log_r = log_reward(LOG_REF, ACC, beta=0.5)
    loss, log_z = vargrad_loss(LOG_Q, log_r, None)
    # log R - log q = [-2.386294, -3.772589, -1.0]; mean -2.386294
    assert log_z == pytest.approx(-2.3862943144532243, abs=1e-9)
    # residuals [0, 1.386294, -1.386294] -> mean square 2 * 1.921812 / 3
    assert loss.item() == pytest.approx(1.2812079816634308, abs=1e-9)


def test_vargrad_later_update_uses_the_ema():
    log_r = log_reward(LOG_REF, ACC, beta=0.5)
    loss, log_z = vargrad_loss(LOG_Q, log_r, -1.0, decay=0.99)
    assert log_z == pytest.approx(0.99 * -1.0 + 0.01 * -2.3862943144532243, abs=1e-12)
    assert loss.item() == pytest.approx(3.1647758506156882, abs=1e-9)


def test_residual_and_penalty_are_separate_parts():
    delta = residual(0.5, LOG_Q, LOG_Q + 1.0)
    assert delta.tolist() == pytest.approx([-0.5, -0.5, -0.5])
    assert squared_penalty(torch.tensor([1.0, -2.0, 3.0])).item() == pytest.approx(14 / 3)


def test_zero_loss_when_q_is_proportional_to_r():
    log_r = log_reward(LOG_REF, ACC, beta=0.5)
    log_q = (log_r + 3.7).clone().requires_grad_(True)  # log q = log R + c
    loss, log_z = vargrad_loss(log_q, log_r, None)
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    assert log_z == pytest.approx(-3.7)
    loss2, _ = vargrad_loss(log_q, log_r, -3.7)  # the EMA at the fixed point stays there
    assert loss2.item() == pytest.approx(0.0, abs=1e-12)
    loss2.backward()
    assert log_q.grad is not None and log_q.grad.abs().max().item() < 1e-9


def test_gradient_flows_to_log_q_only():
    log_r = log_reward(LOG_REF, ACC, beta=0.5).requires_grad_(True)
    log_q = LOG_Q.clone().requires_grad_(True)
    loss, _ = vargrad_loss(log_q, log_r, None)
    loss.backward()
    assert log_r.grad is None  # rewards are targets
    # d/dlogq_i mean(delta^2) with logZ detached = 2 delta_i / 3
    assert log_q.grad.tolist() == pytest.approx(
        [0.0, 2 * 1.3862943 / 3, -2 * 1.3862944 / 3], abs=1e-6
    )


def test_update_log_z_ignores_gradients():
    log_q = LOG_Q.clone().requires_grad_(True)
    assert isinstance(update_log_z(None, LOG_REF, log_q), float)


def test_replay_keeps_the_best_without_duplicates():
    buf = ReplayBuffer(3)
    for text, acc in [("a", 0.1), ("b", 0.5), ("c", 0.3), ("b", 0.9), ("d", 0.4), ("e", 0.05)]:
        buf.add(text, acc)
    assert sorted(t for t, _ in buf.sample(3, random.Random(0))) == ["b", "c", "d"]
    again = ReplayBuffer.from_dict(buf.to_dict())
    assert sorted(again.to_dict()["items"]) == sorted(buf.to_dict()["items"])
    again.add("f", 0.2)  # worse than the worst held: rejected
    assert "f" not in {t for t, _ in again.sample(3, random.Random(1))}


def test_queue_holds_top_k_unique():
    q = TopQueue(2)
    assert q.offer("x", 0.5) and q.offer("y", 0.7)
    assert not q.offer("x", 0.9)  # duplicate text
    assert not q.offer("z", 0.4)  # not better than the worst
    assert q.offer("w", 0.8)
    assert q.items == [("w", 0.8), ("y", 0.7)]
    assert TopQueue.from_dict(q.to_dict()).items == q.items


def test_meta_prompt_lists_demos_and_references():
    text = meta_messages([("good film", "yes"), ("bad", "no")], ["Say yes or no."])
    assert "two inputs" not in text and "2 inputs" in text
    assert "Input: good film\nOutput: yes" in text
    assert "reference instructions:\n1. Say yes or no." in text


class _NoTemplate:
    chat_template = None


class _Template:
    chat_template = "x"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return f"<user>{messages[0]['content']}<assistant>"


def test_render_prefills_and_requires_a_chat_template():
    assert render(_Template(), "hi") == "<user>hi<assistant>" + PREFILL
    with pytest.raises(ModelError, match="chat template"):
        render(_NoTemplate(), "hi")


def test_bad_beta_and_small_reward_set_are_clear_errors():
    with pytest.raises(ConfigError) as e:
        make_config(OptimizeConfig, gfn_beta=0.0)
    assert e.value.field == "gfn_beta"
    with pytest.raises(ConfigError, match="beta must be positive"):
        GfnSettings(beta=-1.0)
    with pytest.raises(DataError, match="fewer than the batch") as e2:
        GfnTrainer(GfnSettings(batch_size=8), [("a", "b")], reward_size=4, model=(None, None))
    assert e2.value.field == "gfn_batch_size"


def test_not_a_causal_lm_is_a_model_error(tmp_path):
    from flowpo.gfn.prompt_lm import load_prompt_lm

    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelError) as e:
        load_prompt_lm(GfnSettings(model=str(tmp_path)))
    assert e.value.field == "gfn_model"


def test_settings_come_from_the_config():
    config = OptimizeConfig(gfn_online_ratio=1.0, gfn_dmu=False, gfn_lora_r=4, seed=7)
    s = GfnSettings.from_config(config)
    assert (s.online_ratio, s.dmu, s.lora_r, s.seed, s.beta) == (1.0, False, 4, 7, None)
