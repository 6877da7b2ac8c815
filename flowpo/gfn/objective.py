"""VarGrad with an EMA log-partition (GFlowPO §3.2, as the authors' code computes it).

For a batch of prompts ``z_i`` with summed token log-probs ``log q(z_i|M)``::

    log R_i    = log p_ref(z_i|M)/gamma + log(acc_i + 1e-8)/beta
    logZ_batch = mean_i(log R_i - log q(z_i|M).detach())
    logZ       = logZ_batch (first update), else decay*logZ + (1-decay)*logZ_batch
    loss       = mean_i (logZ + log q(z_i|M) - log R_i)^2
"""

from __future__ import annotations

import torch

ACC_EPS = 1e-8


def log_reward(
    log_ref: torch.Tensor, accuracy: torch.Tensor, *, beta: float, gamma: float = 1.0
) -> torch.Tensor:
    """Return ``log R = log p_ref/gamma + log(acc + 1e-8)/beta`` (``[B]``)."""
    return log_ref / gamma + torch.log(accuracy + ACC_EPS) / beta


def update_log_z(
    log_z: float | None, log_r: torch.Tensor, log_q: torch.Tensor, *, decay: float = 0.99
) -> float:
    """Return the EMA log-partition after one batch (the batch estimate on the first update)."""
    batch = float((log_r.detach() - log_q.detach()).mean())
    return batch if log_z is None else decay * log_z + (1.0 - decay) * batch


def residual(log_z: float, log_q: torch.Tensor, log_r: torch.Tensor) -> torch.Tensor:
    """Return the sequence-level balance residual ``logZ + log q - log R`` (``[B]``)."""
    return log_z + log_q - log_r


def squared_penalty(delta: torch.Tensor) -> torch.Tensor:
    """Return the mean squared residual (a scalar)."""
    return (delta**2).mean()


def vargrad_loss(
    log_q: torch.Tensor, log_r: torch.Tensor, log_z: float | None, *, decay: float = 0.99
) -> tuple[torch.Tensor, float]:
    """Update log Z from the batch, then return (loss, new log Z).

    Args:
        log_q: ``[B]`` summed log-probs of the prompts under the policy (with grad).
        log_r: ``[B]`` log rewards (no grad).
        log_z: The EMA log-partition so far, ``None`` before the first update.
        decay: EMA weight of the old value (authors: 0.99).
    """
    new_z = update_log_z(log_z, log_r, log_q, decay=decay)
    return squared_penalty(residual(new_z, log_q, log_r.detach())), new_z
