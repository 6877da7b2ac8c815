"""Generation metrics on text: SQuAD/APE answer normalisation, exact match, F1 and kin.

A prediction counts as right when it matches ANY acceptable answer of the example.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowpo.types import Example

Targets = Example | str | Sequence[str] | Mapping[str, Any]
"""What a prediction is scored against: an example, one answer, answers, or entities."""

_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SET_SEP = re.compile(r"[,，、\s]+")


def normalize_answer(s: str) -> str:
    """Normalise an answer as SQuAD and APE do: ``"The  Cat!"`` -> ``"cat"``.

    Lowercase, remove ``string.punctuation``, remove the articles a/an/the, then
    collapse whitespace.
    """
    text = s.lower().translate(_PUNCT_TABLE)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def as_text(value: Any) -> str:
    """Return ``value`` as text; ``None`` (no prediction) is the empty string."""
    return "" if value is None else value if isinstance(value, str) else str(value)


def acceptable_answers(targets: Targets) -> tuple[str, ...]:
    """Return every acceptable answer in ``targets`` as text."""
    if isinstance(targets, Example):
        found = targets.answers()
        if found or targets.target is None or isinstance(targets.target, Mapping):
            return found
        return (as_text(targets.target),)
    if isinstance(targets, str):
        return (targets,)
    if isinstance(targets, Mapping):
        raise TypeError("entity targets (a dict) can only be scored with metric 'entity_f1'")
    return tuple(as_text(t) for t in targets)


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


GENERATION: dict[str, Callable[[str, str], float]] = {
    "exact_match": _exact_match,
    "contains": _contains,
    "set_match": _set_match,
    "token_f1": _token_f1,
}
"""Generation metric name -> (prediction, one answer) -> score in [0, 1]."""
