"""Run a verbalizer prompt as a classifier, exactly as the optimizer scored it.

``Classifier(result.prompt, "local:smollm2-135m").predict(["a fine film"])`` goes through
the same :class:`~flowpo.evaluation.Evaluator` path as the search: the same frame, label
words (several-token words scored as sequences), calibration and prefix cache.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from flowpo.errors import ConfigError
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.base import TargetLM
from flowpo.models.spec import load_target
from flowpo.prompt import DEFAULT_TEMPLATE, Prompt
from flowpo.tasks.task import Task
from flowpo.types import EvalResult, Example


class Classifier:
    """A verbalizer prompt plus a target model: texts in, labels out.

    Example:
        >>> clf = Classifier(result.prompt, "local:smollm2-135m")  # doctest: +SKIP
        >>> clf.predict(["a wonderful film", "dull and far too long"])  # doctest: +SKIP
        ['positive', 'negative']
    """

    def __init__(
        self,
        prompt: Prompt,
        model: str | TargetLM,
        *,
        labels: Sequence[str] | None = None,
        cache: EvalCache | None = None,
    ) -> None:
        """Bind the prompt (with its label words) to a model.

        Args:
            prompt: A prompt with label words (``result.prompt``, ``best_prompt.md``).
            model: A model spec (``local:smollm2-135m``, ``openai:...``) or a loaded model.
            labels: Label order (default: the order of the prompt's label words).
            cache: Where per-text results are kept (default: in memory).

        Raises:
            ConfigError: The prompt has no label words.
        """
        words = dict(prompt.verbalizers or {})
        if not words:
            raise ConfigError(
                "the prompt has no label words, so it is no classifier",
                field="verbalizers",
                fix="use a verbalizer run's result.prompt or best_prompt.md",
            )
        order = tuple(labels) if labels is not None else tuple(words)
        self.prompt = prompt
        self.model = load_target(model) if isinstance(model, str) else model
        self.task = Task(
            name="classifier",
            kind="classification",
            metric="accuracy",
            labels=order,
            verbalizers={lab: words[lab] for lab in order},
            template=prompt.template or DEFAULT_TEMPLATE,
        )
        self.evaluator = Evaluator(self.task, self.model, cache=cache, mode="verbalizer")

    async def ascore(self, texts: Sequence[str]) -> EvalResult:
        """Score ``texts`` (each the formatted input of one example); one result per text."""
        examples = [Example(f"text-{i}", t, self.task.labels[0]) for i, t in enumerate(texts)]
        return await self.evaluator.aevaluate(self.prompt, examples)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Return the predicted label of each text."""
        result = asyncio.run(self.ascore(texts))
        return [str(r.prediction) for r in result.examples]

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Return each text's probability of every label (softmax over the label words)."""
        result = asyncio.run(self.ascore(texts))
        out = []
        for r in result.examples:
            top = max(r.label_logprobs)
            weights = [math.exp(v - top) for v in r.label_logprobs]
            total = sum(weights)
            out.append({lab: w / total for lab, w in zip(self.task.labels, weights, strict=True)})
        return out
