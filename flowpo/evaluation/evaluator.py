"""Score prompts on examples: verbalizer or generation mode, cached, with budget counters."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flowpo.errors import ConfigError, ModelError
from flowpo.evaluation.cache import CachedResult, EvalCache
from flowpo.evaluation.retrieval import DemoIndex
from flowpo.metrics import corpus_score, parse_entities, score_example
from flowpo.metrics.callables import MetricCall
from flowpo.models.base import TargetLM
from flowpo.prompt import TEXT_SLOT, Prompt
from flowpo.run.tracing import span
from flowpo.tasks.task import Task
from flowpo.types import EvalResult, Example, ExampleResult

Mode = Literal["auto", "verbalizer", "generate"]
Progress = Callable[[int, int], None]


@dataclass
class Budget:
    """What evaluations have cost so far (the optimizer's budget counters)."""

    examples_scored: int = 0
    """Examples the target model really scored (cache misses)."""
    examples_cached: int = 0
    """Examples served from the cache."""
    tokens: int = 0
    """Input tokens the target model processed."""

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a dict."""
        return dict(self.__dict__)


def example_key(example: Example, text: str) -> str:
    """Return the cache key of an example: its id plus a hash of its formatted input."""
    return f"{example.id}:{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def soft_score(
    logprobs: Sequence[Sequence[float]], targets: Sequence[Any], labels: list[str]
) -> float:
    """Return the mean probability of the gold label among the label words.

    A smooth companion of accuracy: it moves when a prompt shifts the model toward the
    right answers without yet flipping a prediction, so ties in accuracy can be broken.
    """
    total = 0.0
    for row, target in zip(logprobs, targets, strict=True):
        if target not in labels or not row:
            continue
        top = max(row)
        weights = [math.exp(v - top) for v in row]
        total += weights[labels.index(target)] / sum(weights)
    return total / len(targets) if targets else 0.0


CONTENT_FREE = ("N/A", "", "[MASK]")
"""Content-free inputs of contextual calibration (Zhao et al., 2021)."""


def calibrate(rows: list[list[float]], bias: list[float]) -> list[list[float]]:
    """Subtract the label words' content-free log-probs: ``log p(y|x) - log p_cf(y)``."""
    return [[v - b for v, b in zip(row, bias, strict=True)] for row in rows]


class Evaluator:
    """Scores prompts on a task's examples with a target model.

    The prompt is shared by every example, so the model reuses its key/value cache
    across the batch; every result is cached in SQLite, so repeats cost nothing.
    """

    def __init__(
        self,
        task: Task,
        model: TargetLM,
        *,
        cache: EvalCache | None = None,
        mode: Mode = "auto",
        max_new_tokens: int = 32,
        chunk_size: int = 64,
        metric: MetricCall | None = None,
        demos: DemoIndex | None = None,
    ) -> None:
        """Bind a task, a model, a cache and a scoring mode.

        ``metric`` (a checked Python metric, :func:`flowpo.metrics.callables.as_metric`)
        replaces the task's metric: every example's output is scored by it, cached or
        not (the cache keeps outputs), and its feedback goes with the result. ``demos``
        is where a prompt with ``retrieve`` finds its demonstrations (default: an index
        over the task's labelled examples, built when such a prompt is first scored).
        """
        self.task = task
        self.model = model
        self.cache = cache if cache is not None else EvalCache()
        if mode == "auto":
            mode = "verbalizer" if task.kind == "classification" else "generate"
        if mode == "verbalizer" and task.kind != "classification":
            raise ConfigError(
                f"task {task.name!r} has no labels to verbalize",
                field="mode",
                fix="use --mode generate for generation tasks",
            )
        self.mode = mode
        self.max_new_tokens = max_new_tokens
        self.chunk_size = chunk_size
        self.metric = metric
        self.demos = demos
        self.budget = Budget()

    def _words(self, prompt: Prompt) -> list[str]:
        verbalizers = {**self.task.verbalizers, **(prompt.verbalizers or {})}
        return [verbalizers[label] for label in self.task.labels]

    def _mode_key(self, prompt: Prompt) -> str:
        pool = f":retrieved-from:{self._index().key}" if prompt.retrieve else ""
        if self.mode == "verbalizer":
            cal = ":calibrated" if prompt.calibrate else ""
            return "verbalizer:" + json.dumps(self._words(prompt), ensure_ascii=False) + cal + pool
        return f"generate:{self.max_new_tokens}" + pool

    def _index(self) -> DemoIndex:
        if self.demos is None:
            self.demos = DemoIndex.for_task(self.task)
        return self.demos

    def _patterns(self, prompt: Prompt, examples: Sequence[Example]) -> tuple[str, list[str]]:
        """Return the shared prefix and each example's suffix pattern (its demonstrations)."""
        prefix, pattern = prompt.split_render(self.task.template)  # one prefix either way
        if not prompt.retrieve or not examples:
            return prefix, [pattern] * len(examples)
        demos = self._index().demos(self.task, prompt, examples)
        return prefix, [prompt.split_render(self.task.template, d)[1] for d in demos]

    @property
    def _model_key(self) -> str:
        return str(getattr(self.model, "cache_key", self.model.model_id))

    def uncached(self, prompt: Prompt, examples: Sequence[Example]) -> int:
        """Return how many of ``examples`` have no cached result for ``prompt``.

        That is the most target-LM examples scoring the prompt can cost.
        """
        keys = [example_key(ex, self.task.format_input(ex)) for ex in examples]
        fp = prompt.fingerprint(self.task.template, self.task.verbalizers)
        hits = self.cache.get_many(fp, keys, self._model_key, self._mode_key(prompt))
        return len(keys) - len(hits)

    async def aevaluate(
        self, prompt: Prompt, examples: Sequence[Example], *, progress: Progress | None = None
    ) -> EvalResult:
        """Score one prompt on ``examples``; cached results cost no model call."""
        texts = [self.task.format_input(ex) for ex in examples]
        keys = [example_key(ex, t) for ex, t in zip(examples, texts, strict=True)]
        fp, mode = (
            prompt.fingerprint(self.task.template, self.task.verbalizers),
            self._mode_key(prompt),
        )
        hits = self.cache.get_many(fp, keys, self._model_key, mode)
        todo = [i for i, k in enumerate(keys) if k not in hits]
        if todo and self.mode == "verbalizer":  # all cached: the model is never loaded
            self.model.check_words(self._words(prompt))
        tokens0, scored0 = self.model.stats.tokens_in, self.model.stats.examples
        done = len(examples) - len(todo)
        if progress:
            progress(done, len(examples))
        results: dict[str, CachedResult] = dict(hits)
        prefix, found = self._patterns(prompt, [examples[i] for i in todo])
        patterns = dict(zip(todo, found, strict=True))
        for start in range(0, len(todo), self.chunk_size):
            idx = todo[start : start + self.chunk_size]
            suffixes = [patterns[i].replace(TEXT_SLOT, texts[i]) for i in idx]
            try:
                fresh = await self._run(prompt, prefix, suffixes, [examples[i] for i in idx])
            except ModelError as e:
                self._save_partial(prompt, fp, mode, e, [keys[i] for i in idx], examples, idx)
                raise
            rows = list(zip([keys[i] for i in idx], fresh, strict=True))
            self.cache.put_many(fp, self._model_key, mode, rows)  # saved as soon as computed
            results.update(rows)
            done += len(idx)
            if progress:
                progress(done, len(examples))
        tokens = self.model.stats.tokens_in - tokens0
        scored = self.model.stats.examples - scored0  # real forward passes, not memo hits
        self.budget.examples_scored += scored
        self.budget.examples_cached += len(hits)
        self.budget.tokens += tokens
        return self._result(fp, examples, keys, results, hits, scored, tokens)

    async def _run(
        self, prompt: Prompt, prefix: str, suffixes: list[str], examples: list[Example]
    ) -> list[CachedResult]:
        inputs = {
            "model": self.model.model_id,
            "mode": self.mode,
            "prompt": prefix,
            "examples": len(examples),
            "first_example": suffixes[0] if suffixes else "",
        }
        async with span("target_lm", inputs, run_type="llm") as run:
            out = await self._call_model(prompt, prefix, suffixes, examples)
            run.outputs = {
                "scored": len(out),
                "mean_score": sum(r.score for r in out) / len(out) if out else None,
                "predictions": dict(Counter(str(r.prediction) for r in out).most_common(8)),
            }
        return out

    async def _call_model(
        self, prompt: Prompt, prefix: str, suffixes: list[str], examples: list[Example]
    ) -> list[CachedResult]:
        if self.mode == "verbalizer":
            rows = await self.model.score_labels(prefix, suffixes, self._words(prompt))
            if prompt.calibrate:
                rows = calibrate(rows, await self._content_free(prompt, prefix))
            return self._from_rows(rows, examples)
        generate_for = getattr(self.model, "generate_for", None)  # a program: prompts, fields
        if generate_for is not None:
            outs = await generate_for(prompt, prefix, suffixes, examples)
            return self._from_texts(outs, examples)
        texts = await self.model.generate(prefix, suffixes, max_new_tokens=self.max_new_tokens)
        return self._from_texts(texts, examples)

    def _from_rows(self, rows: list[list[float]], examples: list[Example]) -> list[CachedResult]:
        out = []
        for ex, lp in zip(examples, rows, strict=True):
            pred = self.task.labels[max(range(len(lp)), key=lp.__getitem__)]
            out.append(CachedResult(pred, float(pred == ex.target), tuple(lp)))
        return out

    def _from_texts(self, texts: list[str], examples: list[Example]) -> list[CachedResult]:
        preds = [self._parse(t) for t in texts]
        return [
            CachedResult(p, score_example(self.task.metric, p, ex), ())
            for p, ex in zip(preds, examples, strict=True)
        ]

    def _save_partial(
        self,
        prompt: Prompt,
        fp: str,
        mode: str,
        error: ModelError,
        keys: list[str],
        examples: Sequence[Example],
        idx: list[int],
    ) -> None:
        """Cache the examples a failed batch did score (a model that fails mid-batch).

        Calibrated scores need the content-free pass too, so they are not saved alone.
        """
        partial: dict[int, Any] = getattr(error, "partial", None) or {}
        if not partial or prompt.calibrate:
            return
        done = sorted(partial)
        chosen = [examples[idx[j]] for j in done]
        values = [partial[j] for j in done]
        fresh = (
            self._from_rows(values, chosen)
            if self.mode == "verbalizer"
            else self._from_texts(values, chosen)
        )
        self.cache.put_many(
            fp, self._model_key, mode, [(keys[j], r) for j, r in zip(done, fresh, strict=True)]
        )
        self.budget.examples_scored += len(done)

    async def _content_free(self, prompt: Prompt, prefix: str) -> list[float]:
        """Return log of the mean label-word distribution over content-free inputs."""
        _, pattern = prompt.split_render(self.task.template)  # a retrieving one: no demos
        texts = [pattern.replace(TEXT_SLOT, t) for t in CONTENT_FREE]
        rows = await self.model.score_labels(prefix, texts, self._words(prompt))
        probs = [0.0] * len(rows[0])
        for row in rows:
            top = max(row)
            weights = [math.exp(v - top) for v in row]
            for j, w in enumerate(weights):
                probs[j] += w / sum(weights) / len(rows)
        return [math.log(max(p, 1e-12)) for p in probs]

    def _parse(self, text: str) -> Any:
        """Turn a generation into an answer: the first non-empty line (entities parsed)."""
        if self.task.metric == "entity_f1":
            return parse_entities(text, list(self.task.labels) or [])
        if getattr(self.model, "raw_output", False):  # a chat program: its whole answer
            return text.strip()
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        return lines[0] if lines else ""

    def _result(
        self,
        fp: str,
        examples: Sequence[Example],
        keys: list[str],
        results: dict[str, CachedResult],
        hits: dict[str, CachedResult],
        calls: int,
        tokens: int,
    ) -> EvalResult:
        preds = [results[k].prediction for k in keys]
        targets: list[Any] = list(examples)
        score, details = corpus_score(
            self.task.metric, preds, targets, list(self.task.labels) or None
        )
        metric = self.metric  # a Python metric scores every output, cached or not
        custom = [metric(ex, p) for ex, p in zip(examples, preds, strict=True)] if metric else []
        if custom:
            score = sum(s for s, _ in custom) / len(custom)
        if self.mode == "verbalizer":
            details["soft_score"] = soft_score(
                [results[k].logprobs for k in keys],
                [ex.target for ex in examples],
                list(self.task.labels),
            )
        per = [
            ExampleResult(
                ex.id,
                results[k].prediction,
                ex.target,
                custom[i][0] if custom else results[k].score,
                results[k].logprobs,
                k in hits,
                custom[i][1] if custom else None,
            )
            for i, (ex, k) in enumerate(zip(examples, keys, strict=True))
        ]
        name = "python" if custom else self.task.metric
        return EvalResult(fp, name, score, details, per, calls, len(hits), tokens)

    async def aevaluate_many(
        self, prompts: Sequence[Prompt], examples: Sequence[Example]
    ) -> list[EvalResult]:
        """Score several prompts on the same examples, one after another."""
        return [await self.aevaluate(p, examples) for p in prompts]

    def evaluate(
        self, prompt: Prompt, examples: Sequence[Example], *, progress: Progress | None = None
    ) -> EvalResult:
        """Score one prompt (sync wrapper of :meth:`aevaluate`)."""
        return asyncio.run(self.aevaluate(prompt, examples, progress=progress))
