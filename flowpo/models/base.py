"""The target-model interface every backend implements (local torch, OpenAI-compatible)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass
class ModelStats:
    """Counters of real work a model did (cache hits never reach the model)."""

    calls: int = 0
    """Batched forward passes or API requests."""
    examples: int = 0
    """Examples scored or generated."""
    tokens_in: int = 0
    """Input tokens processed (a reused prefix cache counts once)."""
    tokens_out: int = 0
    """Tokens generated."""

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a dict."""
        return dict(self.__dict__)


class TargetLM(ABC):
    """A model whose prompt is trained: scores label words and generates text.

    Every input is ``prefix + text`` where ``prefix`` is shared by the whole batch
    (the rendered prompt up to the example) and ``text`` is the example's part.
    """

    model_id: str
    stats: ModelStats

    def __init__(self) -> None:
        """Start the counters at zero."""
        self.stats = ModelStats()

    @abstractmethod
    def check_words(self, words: list[str]) -> None:
        """Raise ``ModelError`` naming any label word this model cannot score."""

    @abstractmethod
    async def score_labels(
        self, prefix: str, texts: list[str], words: list[str]
    ) -> list[list[float]]:
        """Return, for each text, the next-token log-prob of each label word.

        Args:
            prefix: Shared start of every input.
            texts: Each example's rest of the input (ends where the answer starts).
            words: Label words (verbalizers), one per label, in label order.

        Returns:
            ``[len(texts)][len(words)]`` log-probabilities.
        """

    @abstractmethod
    async def generate(
        self, prefix: str, texts: list[str], *, max_new_tokens: int = 32
    ) -> list[str]:
        """Return a greedy continuation of ``prefix + text`` for each text."""
