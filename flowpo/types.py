"""Core value types shared by tasks, models, the evaluator and the graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Input = str | dict[str, Any]


@dataclass(frozen=True)
class Example:
    """One labelled example.

    Attributes:
        id: Stable identifier, unique within its split.
        input: A string, or a dict of named fields for sentence pairs and the like.
        target: The gold answer: a label name, a string, or a dict (NER entities).
        targets: Every acceptable answer for generation tasks (APE scores any match).
        choices: Answer options of a multiple-choice example, when it has its own.
    """

    id: str
    input: Input
    target: Any
    targets: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()

    def answers(self) -> tuple[str, ...]:
        """Return every acceptable answer as text."""
        if self.targets:
            return self.targets
        return (self.target,) if isinstance(self.target, str) else ()


@dataclass(frozen=True)
class ExampleResult:
    """How the target model did on one example under one prompt."""

    example_id: str
    prediction: Any
    target: Any
    score: float
    label_logprobs: tuple[float, ...] = ()
    cached: bool = False
    feedback: str | None = None
    """A Python metric's textual feedback on this output (for the bad-case reflector)."""


@dataclass
class EvalResult:
    """The score of one prompt on a set of examples.

    Attributes:
        prompt_fingerprint: Content fingerprint of the prompt scored.
        metric: Name of the task metric.
        score: The metric's value in [0, 1].
        loss: ``1 - score``: what the optimizer drives down.
        details: Other metric values (macro/micro F1, per-label precision/recall/F1).
        examples: Per-example predictions.
        model_calls: Examples the target model actually scored (cache misses).
        cached: Examples served from the cache.
        tokens: Input tokens the target model processed for this result.
    """

    prompt_fingerprint: str
    metric: str
    score: float
    details: dict[str, Any] = field(default_factory=dict)
    examples: list[ExampleResult] = field(default_factory=list)
    model_calls: int = 0
    cached: int = 0
    tokens: int = 0

    @property
    def loss(self) -> float:
        """Return ``1 - score``."""
        return 1.0 - self.score

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "prompt_fingerprint": self.prompt_fingerprint,
            "metric": self.metric,
            "score": self.score,
            "loss": self.loss,
            "details": self.details,
            "model_calls": self.model_calls,
            "cached": self.cached,
            "tokens": self.tokens,
            "examples": [
                {
                    "id": r.example_id,
                    "prediction": r.prediction,
                    "target": r.target,
                    "score": r.score,
                    "label_logprobs": list(r.label_logprobs),
                    "cached": r.cached,
                    **({"feedback": r.feedback} if r.feedback else {}),
                }
                for r in self.examples
            ],
        }


@dataclass
class Candidate:
    """A prompt in the search, with where it came from and how it scored.

    Attributes:
        id: Unique within a run.
        prompt: The prompt, as ``Prompt.to_dict()`` (kept serialisable for graph state).
        parent_id: The candidate it was edited from (``None`` for the initial prompt).
        action: ``(section, operator)`` that produced it, or ``None``.
        train_score: Metric on the train (reward) split, once evaluated.
        per_label: Per-label precision/recall/F1 on train.
        val_score: Metric on the dev split, once evaluated (``finalize``).
        epoch: Epoch it was created in.
    """

    id: str
    prompt: dict[str, Any]
    parent_id: str | None = None
    action: tuple[str, str] | None = None
    train_score: float | None = None
    per_label: dict[str, Any] = field(default_factory=dict)
    val_score: float | None = None
    epoch: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "parent_id": self.parent_id,
            "action": list(self.action) if self.action else None,
            "train_score": self.train_score,
            "per_label": self.per_label,
            "val_score": self.val_score,
            "epoch": self.epoch,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        """Rebuild a candidate from :meth:`to_dict` output."""
        action = data.get("action")
        return cls(
            id=data["id"],
            prompt=data["prompt"],
            parent_id=data.get("parent_id"),
            action=(str(action[0]), str(action[1])) if action else None,
            train_score=data.get("train_score"),
            per_label=data.get("per_label") or {},
            val_score=data.get("val_score"),
            epoch=int(data.get("epoch", 0)),
        )
