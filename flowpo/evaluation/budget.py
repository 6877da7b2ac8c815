"""The one owner of the target-LM example budget that every train scorer goes through.

The graph's ``evaluate`` node, the GFlowPO sampler and the baselines all score prompts on
the train (reward) split through an :class:`ExampleBudget`: it refuses a scoring whose
uncached examples do not fit in what is left (:class:`BudgetSpent`), so no method spends
more target-LM example evaluations than it was given. Dev and test scorings are counted
apart, outside the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowpo.types import EvalResult, Example

if TYPE_CHECKING:
    from flowpo.evaluation.evaluator import Evaluator
    from flowpo.prompt import Prompt


class BudgetSpent(Exception):
    """Raised when a scoring request would spend more target-LM examples than remain."""


@dataclass
class ExampleBudget:
    """Target-LM example evaluations allowed (``limit``; ``None`` = unlimited) and spent."""

    limit: float | None = None
    spent: float = 0.0

    @property
    def left(self) -> float | None:
        """Return the examples that may still be scored (``None``: no limit)."""
        return None if self.limit is None else self.limit - self.spent

    def fits(self, cost: float) -> bool:
        """Return True when ``cost`` more examples fit in the budget."""
        return self.limit is None or self.spent + cost <= self.limit

    def ensure(self, cost: float) -> None:
        """Raise :class:`BudgetSpent` unless ``cost`` more examples fit."""
        if not self.fits(cost):
            raise BudgetSpent(f"{cost:g} examples needed, {self.left:g} left")

    def charge(self, n: float) -> None:
        """Count ``n`` examples the target model really scored."""
        self.spent += n

    async def score(
        self, evaluator: Evaluator, prompt: Prompt, examples: Sequence[Example]
    ) -> EvalResult:
        """Score ``prompt`` on ``examples`` if its uncached examples fit; charge the cost.

        Raises:
            BudgetSpent: when the examples without a cached result do not fit.
        """
        if self.limit is not None:
            self.ensure(evaluator.uncached(prompt, examples))
        result = await evaluator.aevaluate(prompt, examples)
        self.charge(result.model_calls)
        return result
