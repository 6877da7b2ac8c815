"""Minibatch screening: an edit is scored in full only if it clears its parent's bar.

The way ProTeGi's bandit and GEPA's minibatch-then-full evaluation save budget: a new
candidate is first scored on a small fixed minibatch of train beside its parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flowpo.prompt import Prompt
from flowpo.search.objective import result_objective
from flowpo.search.refit import refit_words
from flowpo.search.reward import stratified
from flowpo.search.scorer import Scorer, train_fields
from flowpo.types import EvalResult, Example


@dataclass
class Screening:
    """A candidate and its parent scored on the same train minibatch.

    The bar is the lower of the parent's objective on the minibatch and on the whole
    reward set (``level``): the parent was kept for scoring well on these very examples,
    so its minibatch score flatters it, and a child at the parent's known level is worth
    scoring in full.
    """

    child: EvalResult
    parent: EvalResult
    soft_weight: float
    prompt: Prompt
    """The candidate as screened (a new frame: with the label words that suit it there)."""
    level: float | None = None
    """The parent's objective on the whole reward set (``None``: unknown)."""

    @property
    def gain(self) -> float:
        """Return the child's objective minus the bar, on the minibatch."""
        w = self.soft_weight
        bar = result_objective(self.parent, w)
        if self.level is not None:
            bar = min(bar, self.level)
        return result_objective(self.child, w) - bar

    @property
    def passed(self) -> bool:
        """Return True when the child clears the bar on the minibatch."""
        return self.gain > 0

    def fields(self) -> dict[str, Any]:
        """Return the fields of a candidate left on its minibatch score."""
        return {**train_fields(self.child), "screened": True, "screen_gain": self.gain}


def screen_batch(train: Sequence[Example], size: int) -> list[Example]:
    """Return the fixed minibatch edits are screened on: ``size`` examples, every label."""
    return stratified(train)[:size]


async def screen(
    scorer: Scorer,
    prompt: Prompt,
    parent: Prompt,
    train: Sequence[Example],
    *,
    refit: bool = False,
    level: float | None = None,
) -> Screening:
    """Score ``prompt`` and its parent on the screening minibatch (the parent's is cached).

    With ``refit`` (a new frame), the prompt is screened with the label words that suit
    the frame on the minibatch (:func:`refit_words`; both scorings are counted): a frame
    judged with words tuned for another frame would fail the screen unfairly.
    """
    batch = screen_batch(train, scorer.screen_size)
    child = await scorer.evaluator.aevaluate(prompt, batch)
    if refit:
        prompt, child = await refit_words(scorer, prompt, child, batch)
    before = await scorer.evaluator.aevaluate(parent, batch)
    return Screening(child, before, scorer.soft_weight, prompt, level)
