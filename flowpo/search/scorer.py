"""What scoring a candidate needs (:class:`Scorer`) and what a batch of scorings gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flowpo.evaluation import Evaluator, ExampleBudget
from flowpo.memory import MemoryStore
from flowpo.memory.experience import split_key
from flowpo.prompt import Prompt
from flowpo.tasks.task import Task
from flowpo.types import Candidate, EvalResult, Example


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
    spent: float = 0.0
    """The run's train examples spent after the last charge (each row's ``spent``: a curve
    of score against spend, candidate by candidate)."""

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Append ``row`` stamped with the spend so far (``spent``); return it."""
        stamped = {**row, "spent": self.spent}
        self.candidates.append(stamped)
        return stamped


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


def charge(out: Scored, budget: ExampleBudget, *results: EvalResult) -> None:
    """Charge ``results``' forward passes to ``budget`` and count them in ``out``."""
    for result in results:
        budget.charge(result.model_calls)
        out.counts["examples_scored"] += result.model_calls
        out.counts["examples_cached"] += result.cached
        out.counts["tokens"] += result.tokens
    out.spent = budget.spent


def candidate_keys(task: Task, prompt: Prompt, train: Sequence[Example]) -> dict[str, str]:
    """Return a candidate's fingerprint, near-duplicate key and reward-set key."""
    return {
        "fingerprint": prompt.fingerprint(task.template, task.verbalizers),
        "near_key": prompt.near_key(task.template, task.verbalizers),
        "train_key": split_key(train),
    }


def add_child(
    scorer: Scorer,
    out: Scored,
    parent: dict[str, Any],
    suffix: str,
    prompt: Prompt,
    action: tuple[str, str],
    result: EvalResult,
) -> dict[str, Any]:
    """Append ``prompt``, scored on the whole reward set, as a child of ``parent``.

    Its id is the parent's plus ``suffix``; return its row (already in ``out``).
    """
    child = Candidate(
        f"{parent['id']}{suffix}", prompt.to_dict(), parent["id"], action,
        epoch=int(parent.get("epoch", 0)),
    )
    train = scorer.task.split("train")
    return out.add(
        {**child.to_dict(), **candidate_keys(scorer.task, prompt, train), **train_fields(result)}
    )
