"""What scoring a candidate needs (:class:`Scorer`) and what a batch of scorings gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowpo.evaluation import Evaluator
from flowpo.memory import MemoryStore
from flowpo.tasks.task import Task
from flowpo.types import EvalResult


@dataclass
class Scorer:
    """What scoring a candidate needs: the task, the target model, its evaluator, memory."""

    task: Task
    target: Any
    evaluator: Evaluator
    model: str
    """The target model's spec (remembered scores are reused only for the same model)."""
    memory: MemoryStore | None = None
    soft_weight: float = 0.5
    embed: Any = None
    """Embeds words for related label-word candidates (``None``: free search)."""
    screen_size: int = 0
    """Train examples a new candidate is screened on first (0: no screening)."""
    refit_start: bool = False
    """Judge the start with its own best label words too (the label words are trainable)."""


@dataclass
class Scored:
    """The outcome of scoring a batch of pending candidates on train."""

    candidates: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)
    """``examples_scored``, ``examples_cached``, ``tokens`` (and ``examples_from_memory``)."""
    unpaid: set[str] = field(default_factory=set)
    """Ids of the candidates the budget could not pay for (left unscored)."""


def train_fields(result: EvalResult) -> dict[str, Any]:
    """Return the candidate fields a train evaluation fills in."""
    return {
        "train_score": result.score,
        "train_soft": result.details.get("soft_score", 0.0),
        "per_label": result.details.get("per_label", {}),
        "fingerprint": result.prompt_fingerprint,
    }


def searches_words(scorer: Scorer) -> bool:
    """Return True when label words can be searched: verbalizer mode, a local target."""
    return scorer.evaluator.mode == "verbalizer" and hasattr(scorer.target, "next_token_logprobs")
