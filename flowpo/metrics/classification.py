"""Classification metrics: accuracy, macro/micro F1 and per-label precision/recall/F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from flowpo.errors import ConfigError
from flowpo.metrics.text import as_text


def ratio(num: int, den: int) -> float:
    """Return ``num / den``, or 0.0 when ``den`` is 0 (``zero_division=0``)."""
    return num / den if den else 0.0


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, Any]:
    """Return precision, recall, F1 and support from counts (0/0 gives 0.0)."""
    return {
        "precision": ratio(tp, n_pred),
        "recall": ratio(tp, n_gold),
        "f1": ratio(2 * tp, n_pred + n_gold),
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
    labs = list(dict.fromkeys(as_text(lab).strip() for lab in labels))
    if not labs:
        raise ConfigError(
            "no labels to report on",
            field="labels",
            fix="pass the task's label names, e.g. labels=['negative', 'positive']",
        )
    preds = [as_text(p).strip() for p in predictions]
    golds = [as_text(t).strip() for t in targets]
    n_pred, n_gold = Counter(preds), Counter(golds)
    tp = Counter(p for p, g in zip(preds, golds, strict=True) if p == g)
    per_label = {lab: prf(tp[lab], n_pred[lab], n_gold[lab]) for lab in labs}
    micro = prf(
        sum(tp[lab] for lab in labs),
        sum(n_pred[lab] for lab in labs),
        sum(n_gold[lab] for lab in labs),
    )

    def macro(key: str) -> float:
        return sum(row[key] for row in per_label.values()) / len(labs)

    return {
        "accuracy": ratio(sum(tp.values()), len(golds)),
        "macro_precision": macro("precision"),
        "macro_recall": macro("recall"),
        "macro_f1": macro("f1"),
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "micro_f1": micro["f1"],
        "n": len(golds),
        "per_label": per_label,
    }
