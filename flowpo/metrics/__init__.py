"""Every metric the tasks are scored with, in pure Python.

Per-example scores and corpus scores lie in [0, 1]. Undefined ratios (a 0/0 precision
or recall) are 0.0, as with scikit-learn's ``zero_division=0``. Generation metrics
normalise text as SQuAD and APE do (:func:`normalize_answer`) and count a prediction
right when it matches ANY acceptable answer of the example.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowpo.errors import ConfigError
from flowpo.metrics.classification import classification_report
from flowpo.metrics.custom import MetricFn, check_metric_callable
from flowpo.metrics.entities import (
    CLUENER_TYPES,
    Entities,
    entity_f1,
    gold_entities,
    parse_entities,
    pred_entities,
)
from flowpo.metrics.text import GENERATION, Targets, acceptable_answers, as_text, normalize_answer
from flowpo.types import Example

__all__ = [
    "CLASSIFICATION_METRICS",
    "CLUENER_TYPES",
    "GENERATION_METRICS",
    "METRICS",
    "Entities",
    "MetricFn",
    "Targets",
    "check_metric",
    "check_metric_callable",
    "classification_report",
    "corpus_score",
    "entity_f1",
    "normalize_answer",
    "parse_entities",
    "score_example",
]

CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "micro_f1")
GENERATION_METRICS = ("exact_match", "contains", "set_match", "token_f1")
METRICS = CLASSIFICATION_METRICS + GENERATION_METRICS + ("entity_f1",)
"""Names ``Task.metric`` may take."""


def check_metric(name: str) -> str:
    """Return ``name`` if it is a known metric; raise ConfigError naming the known ones."""
    if name not in METRICS:
        known = ", ".join(METRICS)
        raise ConfigError(
            f"unknown metric {name!r}; known metrics: {known}",
            field="metric",
            fix=f"use one of {known}",
        )
    return name


def score_example(metric: str, prediction: Any, example_or_targets: Targets) -> float:
    """Score one prediction in [0, 1].

    Generation metrics take the best score over every acceptable answer. ``accuracy``,
    ``macro_f1`` and ``micro_f1`` score 1 when the stripped prediction equals a stripped
    target. ``entity_f1`` is the example's own entity F1; a text prediction is parsed
    with :func:`parse_entities` first.

    Args:
        metric: A name in :data:`METRICS` (else ConfigError).
        prediction: The model's answer (text; for ``entity_f1`` text or entities).
        example_or_targets: An :class:`Example`, one answer, a list of answers, or
            (for ``entity_f1``) the gold entities.

    Returns:
        The score in [0, 1]; 0.0 if there is no answer to match.
    """
    check_metric(metric)
    if metric == "entity_f1":
        gold = gold_entities(example_or_targets)
        return float(entity_f1([pred_entities(prediction, gold)], [gold])["f1"])
    answers = acceptable_answers(example_or_targets)
    if metric in CLASSIFICATION_METRICS:
        pred = as_text(prediction).strip()
        return float(any(pred == a.strip() for a in answers))
    fn = GENERATION[metric]
    return max((fn(as_text(prediction), a) for a in answers), default=0.0)


def corpus_score(
    metric: str,
    predictions: Sequence[Any],
    examples_targets: Sequence[Targets],
    labels: Sequence[str] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Score a whole set of predictions.

    ``macro_f1``/``micro_f1`` (and ``accuracy`` when ``labels`` is given) come from
    :func:`classification_report`; without ``labels`` the label set is the sorted gold
    labels. ``entity_f1`` is the corpus micro F1 of :func:`entity_f1`. Generation metrics
    (and ``accuracy`` without labels) are the mean per-example score.

    Returns:
        The main score in [0, 1] and a details dict (the report, or ``n`` and ``mean``).

    Raises:
        ValueError: If the lists differ in length; ConfigError if ``metric`` is unknown.
    """
    check_metric(metric)
    if len(predictions) != len(examples_targets):
        raise ValueError(f"{len(predictions)} predictions but {len(examples_targets)} targets")
    if metric == "entity_f1":
        golds = [gold_entities(t) for t in examples_targets]
        preds = [pred_entities(p, g) for p, g in zip(predictions, golds, strict=True)]
        report = entity_f1(preds, golds)
        return float(report["f1"]), report
    if metric in CLASSIFICATION_METRICS and (labels or metric != "accuracy"):
        gold_labels = [as_text(t.target if isinstance(t, Example) else t) for t in examples_targets]
        labs = list(labels) if labels else sorted({g.strip() for g in gold_labels})
        report = classification_report(predictions, gold_labels, labs)
        return float(report[metric]), report
    scores = [
        score_example(metric, p, t) for p, t in zip(predictions, examples_targets, strict=True)
    ]
    mean = sum(scores) / len(scores) if scores else 0.0
    return mean, {"n": len(scores), "mean": mean}
