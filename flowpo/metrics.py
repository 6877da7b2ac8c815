"""Every metric the tasks are scored with, in pure Python.

Per-example scores and corpus scores lie in [0, 1]. Undefined ratios (a 0/0 precision
or recall) are 0.0, as with scikit-learn's ``zero_division=0``. Generation metrics
normalise text as SQuAD and APE do (:func:`normalize_answer`) and count a prediction
right when it matches ANY acceptable answer of the example.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowpo.errors import ConfigError
from flowpo.types import Example

CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "micro_f1")
GENERATION_METRICS = ("exact_match", "contains", "set_match", "token_f1")
METRICS = CLASSIFICATION_METRICS + GENERATION_METRICS + ("entity_f1",)
"""Names ``Task.metric`` may take."""

CLUENER_TYPES = (
    "address",
    "book",
    "company",
    "game",
    "government",
    "movie",
    "name",
    "organization",
    "position",
    "scene",
)
"""The ten CLUENER entity types; a generated answer is parsed against these too."""

Entities = dict[str, list[str]]
"""Entity type -> mentions (a multiset: a mention listed twice counts twice)."""

Targets = Example | str | Sequence[str] | Mapping[str, Any]
"""What a prediction is scored against: an example, one answer, answers, or entities."""

_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SET_SEP = re.compile(r"[,，、\s]+")
_MENTION_SEP = re.compile(r"[,，、;；]")
_MENTION_STRIP = " \t\r\n\"'`*“”‘’「」『』[](){}（）【】。"
_EMPTY_MENTIONS = frozenset({"", "无", "空", "没有", "none", "null", "n/a", "-", "—", "[]"})
_DUMMY = Example(id="dummy", input="dummy input", target="dummy target", targets=("dummy target",))


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


def normalize_answer(s: str) -> str:
    """Normalise an answer as SQuAD and APE do: ``"The  Cat!"`` -> ``"cat"``.

    Lowercase, remove ``string.punctuation``, remove the articles a/an/the, then
    collapse whitespace.
    """
    text = s.lower().translate(_PUNCT_TABLE)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _text(value: Any) -> str:
    """Return ``value`` as text; ``None`` (no prediction) is the empty string."""
    return "" if value is None else value if isinstance(value, str) else str(value)


def _answers(targets: Targets) -> tuple[str, ...]:
    """Return every acceptable answer in ``targets`` as text."""
    if isinstance(targets, Example):
        found = targets.answers()
        if found or targets.target is None or isinstance(targets.target, Mapping):
            return found
        return (_text(targets.target),)
    if isinstance(targets, str):
        return (targets,)
    if isinstance(targets, Mapping):
        raise TypeError("entity targets (a dict) can only be scored with metric 'entity_f1'")
    return tuple(_text(t) for t in targets)


def _exact_match(prediction: str, answer: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(answer))


def _contains(prediction: str, answer: str) -> float:
    """Score 1 if the normalised answer occurs in the normalised prediction as whole words."""
    return float(f" {normalize_answer(answer)} " in f" {normalize_answer(prediction)} ")


def _item_set(text: str) -> set[str]:
    """Split on commas/whitespace; lowercase, unpunctuate items (keep "a": a letter)."""
    items = (item.lower().translate(_PUNCT_TABLE) for item in _SET_SEP.split(text))
    return {item for item in items if item}


def _set_match(prediction: str, answer: str) -> float:
    return float(_item_set(prediction) == _item_set(answer))


def _token_f1(prediction: str, answer: str) -> float:
    """Return SQuAD's token F1; two empty answers match (1.0), one empty scores 0.0."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    return 2.0 * same / (len(pred) + len(gold))


_GENERATION: dict[str, Callable[[str, str], float]] = {
    "exact_match": _exact_match,
    "contains": _contains,
    "set_match": _set_match,
    "token_f1": _token_f1,
}


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
        gold = _gold_entities(example_or_targets)
        return float(entity_f1([_pred_entities(prediction, gold)], [gold])["f1"])
    answers = _answers(example_or_targets)
    if metric in CLASSIFICATION_METRICS:
        pred = _text(prediction).strip()
        return float(any(pred == a.strip() for a in answers))
    fn = _GENERATION[metric]
    return max((fn(_text(prediction), a) for a in answers), default=0.0)


def _ratio(num: int, den: int) -> float:
    """Return ``num / den``, or 0.0 when ``den`` is 0 (``zero_division=0``)."""
    return num / den if den else 0.0


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, Any]:
    """Return precision, recall, F1 and support from counts (0/0 gives 0.0)."""
    return {
        "precision": _ratio(tp, n_pred),
        "recall": _ratio(tp, n_gold),
        "f1": _ratio(2 * tp, n_pred + n_gold),
        "support": n_gold,
    }


def classification_report(
    predictions: Sequence[Any], targets: Sequence[Any], labels: Sequence[str]
) -> dict[str, Any]:
    """Compute accuracy, macro/micro F1 and per-label precision/recall/F1.

    Labels are compared after ``strip()``. As in scikit-learn with ``labels=`` given,
    per-label and micro figures count only the given labels (a prediction outside them
    is a miss for the true label, never a false positive), macro figures average every
    given label (also those without support), and accuracy counts every example.

    Returns:
        ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
        ``micro_precision``, ``micro_recall``, ``micro_f1``, ``n`` and ``per_label``
        (label -> ``precision``, ``recall``, ``f1``, ``support``).

    Raises:
        ValueError: If the lists differ in length; ConfigError if ``labels`` is empty.
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets")
    labs = list(dict.fromkeys(_text(lab).strip() for lab in labels))
    if not labs:
        raise ConfigError(
            "no labels to report on",
            field="labels",
            fix="pass the task's label names, e.g. labels=['negative', 'positive']",
        )
    preds = [_text(p).strip() for p in predictions]
    golds = [_text(t).strip() for t in targets]
    n_pred, n_gold = Counter(preds), Counter(golds)
    tp = Counter(p for p, g in zip(preds, golds, strict=True) if p == g)
    per_label = {lab: _prf(tp[lab], n_pred[lab], n_gold[lab]) for lab in labs}
    micro = _prf(
        sum(tp[lab] for lab in labs),
        sum(n_pred[lab] for lab in labs),
        sum(n_gold[lab] for lab in labs),
    )

    def macro(key: str) -> float:
        return sum(row[key] for row in per_label.values()) / len(labs)

    return {
        "accuracy": _ratio(sum(tp.values()), len(golds)),
        "macro_precision": macro("precision"),
        "macro_recall": macro("recall"),
        "macro_f1": macro("f1"),
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "micro_f1": micro["f1"],
        "n": len(golds),
        "per_label": per_label,
    }


def _clean_mention(text: str) -> str:
    """Strip quotes, brackets and blanks from a mention; return "" for "none"-like ones."""
    mention = text.strip(_MENTION_STRIP)
    return "" if mention.lower() in _EMPTY_MENTIONS else mention


def _mentions(value: Any, split: bool) -> list[str]:
    """Return the mentions in an entity value.

    Accepts a list of mentions, one string (split on commas if ``split``), or CLUENER's
    own span format ``{mention: [[start, end], ...]}`` where each span counts once.
    """
    parts: list[str] = []
    if isinstance(value, str):
        parts = _MENTION_SEP.split(value) if split else [value]
    elif isinstance(value, Mapping):
        for mention, spans in value.items():
            many = isinstance(spans, list) and spans and all(isinstance(s, list) for s in spans)
            parts.extend([_text(mention)] * (len(spans) if many else 1))
    elif isinstance(value, list | tuple):
        parts = [item for item in value if isinstance(item, str)]
    else:
        return []
    return [m for m in map(_clean_mention, parts) if m]


def _entity_pairs(entities: Mapping[str, Any]) -> Counter[tuple[str, str]]:
    """Return the (type, mention) multiset of ``entities``."""
    pairs: Counter[tuple[str, str]] = Counter()
    for typ, value in entities.items():
        pairs.update((_text(typ).strip(), m) for m in _mentions(value, split=False))
    return pairs


def entity_f1(
    predictions: Sequence[Mapping[str, Any] | None], targets: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Compute entity-level micro precision/recall/F1 over (type, mention) pairs.

    Counts are multisets over the corpus: a mention listed twice counts twice, and a
    right mention with the wrong type is both a false positive and a miss. When there
    are no gold and no predicted entities at all, precision, recall and F1 are 1.0
    (nothing to find, nothing wrongly found); otherwise 0/0 gives 0.0.

    Returns:
        ``precision``, ``recall``, ``f1``, ``tp``, ``n_pred``, ``n_gold`` and
        ``per_type`` (type -> ``precision``, ``recall``, ``f1``, ``support``).
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets")
    pred: Counter[tuple[str, str]] = Counter()
    gold: Counter[tuple[str, str]] = Counter()
    for p, g in zip(predictions, targets, strict=True):
        pred.update(_entity_pairs(p or {}))
        gold.update(_entity_pairs(g))
    hit = pred & gold
    n_pred, n_gold, tp = sum(pred.values()), sum(gold.values()), sum(hit.values())
    types = sorted({typ for typ, _ in pred} | {typ for typ, _ in gold})

    def count(c: Counter[tuple[str, str]], typ: str) -> int:
        return sum(n for (t, _), n in c.items() if t == typ)

    per_type = {t: _prf(count(hit, t), count(pred, t), count(gold, t)) for t in types}
    if n_pred == n_gold == 0:
        overall: dict[str, Any] = {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    else:
        overall = _prf(tp, n_pred, n_gold)
    return {
        "precision": overall["precision"],
        "recall": overall["recall"],
        "f1": overall["f1"],
        "tp": tp,
        "n_pred": n_pred,
        "n_gold": n_gold,
        "per_type": per_type,
    }


def _parse_json(text: str, canon: Mapping[str, str]) -> Entities | None:
    """Parse the outermost ``{...}`` of ``text`` as JSON; None if it is not a JSON object."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    found: Entities = {}
    for key, value in data.items():
        typ = canon.get(_text(key).strip().lower())
        if typ is not None:
            found.setdefault(typ, []).extend(_mentions(value, split=True))
    return found


def _parse_lines(text: str, canon: Mapping[str, str]) -> Entities:
    """Parse ``type: m1, m2`` pieces (also ``：``, quoted or bold types, several per line)."""
    names = "|".join(re.escape(k) for k in sorted(canon, key=len, reverse=True))
    pattern = re.compile(rf"(?<![A-Za-z0-9_])({names})[\"'”*]*\s*[:：]", re.IGNORECASE)
    matches = list(pattern.finditer(text))
    found: Entities = {}
    for i, match in enumerate(matches):
        stop = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        typ = canon.get(match.group(1).lower())
        if typ is not None:
            value = text[match.end() : stop].split("\n", 1)[0]
            found.setdefault(typ, []).extend(_mentions(value, split=True))
    return found


def parse_entities(text: str, types: Sequence[str]) -> Entities:
    """Parse a model's generated entities forgivingly; never raise on garbage.

    Accepts a JSON object (``{"name": ["张三"]}``, also inside code fences or prose)
    or ``type: mention, mention`` pieces with an ASCII or full-width colon. Types are
    matched case-insensitively; unknown types, empty markers (``无``, ``none``) and
    junk are dropped.

    Returns:
        Type -> mentions for the types found, in ``types`` order; ``{}`` if none.
    """
    if not isinstance(text, str):
        return {}
    canon = {t.strip().lower(): t.strip() for t in types if isinstance(t, str) and t.strip()}
    if not canon:
        return {}
    found = _parse_json(text, canon)
    if found is None:
        found = _parse_lines(text, canon)
    return {t: found[t] for t in dict.fromkeys(canon.values()) if found.get(t)}


def _gold_entities(targets: Targets) -> Mapping[str, Any]:
    """Return the gold entities of an example (or the entities given directly)."""
    gold = targets.target if isinstance(targets, Example) else targets
    if not isinstance(gold, Mapping):
        raise TypeError(f"entity_f1 needs gold entities as a dict, got {type(gold).__name__}")
    return gold


def _pred_entities(prediction: Any, gold: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return predicted entities; text is parsed against CLUENER's and the gold types."""
    if isinstance(prediction, Mapping):
        return prediction
    types = list(dict.fromkeys([*CLUENER_TYPES, *(_text(t) for t in gold)]))
    return parse_entities(_text(prediction), types)


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
        golds = [_gold_entities(t) for t in examples_targets]
        preds = [_pred_entities(p, g) for p, g in zip(predictions, golds, strict=True)]
        report = entity_f1(preds, golds)
        return float(report["f1"]), report
    if metric in CLASSIFICATION_METRICS and (labels or metric != "accuracy"):
        gold_labels = [_text(t.target if isinstance(t, Example) else t) for t in examples_targets]
        labs = list(labels) if labels else sorted({g.strip() for g in gold_labels})
        report = classification_report(predictions, gold_labels, labs)
        return float(report[metric]), report
    scores = [
        score_example(metric, p, t) for p, t in zip(predictions, examples_targets, strict=True)
    ]
    mean = sum(scores) / len(scores) if scores else 0.0
    return mean, {"n": len(scores), "mean": mean}


MetricFn = Callable[[Any, Example], float]
"""A custom metric: (prediction, example) -> score in [0, 1]."""


def check_metric_callable(
    fn: object, example: Example | None = None, prediction: Any = "dummy prediction"
) -> MetricFn:
    """Check early that ``fn`` is a metric: (prediction, example) -> real number in [0, 1].

    Args:
        fn: The user's metric.
        example: An example to try it on (a task's own is best); a dummy by default.
        prediction: The prediction to try it on.

    Raises:
        TypeError: If ``fn`` is not callable, takes other arguments, raises on the trial
            call, or returns something that is not a real number.
        ValueError: If it returns NaN or a number outside [0, 1].
    """
    name = getattr(fn, "__name__", repr(fn))
    fix = "Fix: pass a function metric(prediction, example) -> float in [0, 1]"
    if not callable(fn):
        raise TypeError(f"custom metric {name} is not callable. {fix}")
    trial = example if example is not None else _DUMMY
    try:
        inspect.signature(fn).bind(prediction, trial)
    except TypeError as err:
        raise TypeError(
            f"custom metric {name} cannot take (prediction, example): {err}. {fix}"
        ) from err
    except ValueError:  # no signature to inspect (some builtins): rely on the call
        pass
    try:
        value = fn(prediction, trial)
    except Exception as err:
        raise TypeError(
            f"custom metric {name} raised {type(err).__name__}: {err} when "
            f"called on ({prediction!r}, example {trial.id!r}). {fix}"
        ) from err
    if not isinstance(value, numbers.Real):
        raise TypeError(
            f"custom metric {name} returned {type(value).__name__}, not a real number. {fix}"
        )
    if math.isnan(float(value)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"custom metric {name} returned {value!r}, outside [0, 1]. "
            f"Fix: rescale its scores into [0, 1]"
        )
    return fn
