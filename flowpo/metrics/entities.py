"""Entity F1 over (type, mention) pairs, and a forgiving parser of generated entities."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from flowpo.metrics.classification import prf
from flowpo.metrics.text import Targets, as_text
from flowpo.types import Example

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

_MENTION_SEP = re.compile(r"[,，、;；]")
_MENTION_STRIP = " \t\r\n\"'`*“”‘’「」『』[](){}（）【】。"
_EMPTY_MENTIONS = frozenset({"", "无", "空", "没有", "none", "null", "n/a", "-", "—", "[]"})


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
            parts.extend([as_text(mention)] * (len(spans) if many else 1))
    elif isinstance(value, list | tuple):
        parts = [item for item in value if isinstance(item, str)]
    else:
        return []
    return [m for m in map(_clean_mention, parts) if m]


def _entity_pairs(entities: Mapping[str, Any]) -> Counter[tuple[str, str]]:
    """Return the (type, mention) multiset of ``entities``."""
    pairs: Counter[tuple[str, str]] = Counter()
    for typ, value in entities.items():
        pairs.update((as_text(typ).strip(), m) for m in _mentions(value, split=False))
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

    per_type = {t: prf(count(hit, t), count(pred, t), count(gold, t)) for t in types}
    if n_pred == n_gold == 0:
        overall: dict[str, Any] = {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    else:
        overall = prf(tp, n_pred, n_gold)
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
        typ = canon.get(as_text(key).strip().lower())
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


def gold_entities(targets: Targets) -> Mapping[str, Any]:
    """Return the gold entities of an example (or the entities given directly)."""
    gold = targets.target if isinstance(targets, Example) else targets
    if not isinstance(gold, Mapping):
        raise TypeError(f"entity_f1 needs gold entities as a dict, got {type(gold).__name__}")
    return gold


def pred_entities(prediction: Any, gold: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return predicted entities; text is parsed against CLUENER's and the gold types."""
    if isinstance(prediction, Mapping):
        return prediction
    types = list(dict.fromkeys([*CLUENER_TYPES, *(as_text(t) for t in gold)]))
    return parse_entities(as_text(prediction), types)
