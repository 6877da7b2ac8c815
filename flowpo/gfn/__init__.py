"""GFlowPO's learning code: prompt-LM with LoRA, meta-prompt, VarGrad, replay, DMU.

Plain modules with no LangGraph import; the graph node is :mod:`flowpo.agents.sampler`.
"""

from flowpo.gfn.buffers import ReplayBuffer, TopQueue
from flowpo.gfn.objective import log_reward, residual, squared_penalty, update_log_z, vargrad_loss
from flowpo.gfn.settings import GfnSettings

__all__ = [
    "GfnSettings",
    "ReplayBuffer",
    "TopQueue",
    "log_reward",
    "residual",
    "squared_penalty",
    "update_log_z",
    "vargrad_loss",
]
