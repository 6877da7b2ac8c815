"""A prompt judged with the label words that suit it (its frame, its start).

The label-word search reads the next-token rows the prompt's scoring just computed (the
model's memo), so finding the words is free; scoring the relabelled prompt is charged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from flowpo.evaluation import ExampleBudget
from flowpo.prompt import Prompt
from flowpo.search.coherence import answer_words, relabel
from flowpo.search.labelwords import best_label_words
from flowpo.search.objective import clearly_better
from flowpo.search.scorer import Scorer
from flowpo.types import EvalResult, Example


async def with_best_words(
    scorer: Scorer, prompt: Prompt, train: Sequence[Example]
) -> tuple[dict[str, str], Prompt] | None:
    """Return the words that suit ``prompt`` best and it relabelled (``None``: it has them).

    The search reads the rows its scoring on ``train`` just computed (the model's memo).
    """
    task = scorer.task
    words = await best_label_words(
        scorer.target, task, prompt, list(train), scorer.soft_weight, embed=scorer.embed
    )
    current = answer_words(prompt, task)
    return None if words == current else (words, relabel(prompt, current, words))


async def refit_words(
    scorer: Scorer,
    prompt: Prompt,
    result: EvalResult,
    train: Sequence[Example],
    budget: ExampleBudget | None = None,
) -> tuple[Prompt, EvalResult]:
    """Return the frame's prompt with the label words that suit it best, when they win.

    The words old frames were tuned for rarely suit a new one, so a frame scored with
    them is judged unfairly. The search reads the rows the evaluation just computed (the
    model's memo); the relabelled prompt is scored only when ``budget`` (not yet charged
    for ``result``) can pay for it, and both scorings are charged, kept or not. The new
    words are kept only when :func:`~flowpo.search.objective.clearly_better` (a sign test
    on the examples): they were chosen on these examples among dozens of pairs, so a
    small win is the choice fitting noise (CR seed 13, the ``Review:`` frame alone:
    ``negatively``/``pleasant`` beat the task's ``negative``/``positive`` on the reward
    set and lost 8 points on test), while words that lift a prompt off one label win
    clearly.
    """
    found = await with_best_words(scorer, prompt, train)
    if found is None:
        return prompt, result
    refit = found[1]
    template = scorer.task.template
    same_rows = refit.split_render(template) == prompt.split_render(template)
    # the same rendered inputs (no text names the words): the model's memo serves them
    cost = result.model_calls + (0 if same_rows else scorer.evaluator.uncached(refit, train))
    if budget is not None and not budget.fits(cost):
        return prompt, result
    second = await scorer.evaluator.aevaluate(refit, train)
    kept = clearly_better(second, result)
    return (refit if kept else prompt), replace(
        second if kept else result,
        model_calls=second.model_calls + result.model_calls,
        cached=second.cached + result.cached,
        tokens=second.tokens + result.tokens,
    )
