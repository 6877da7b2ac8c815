"""Helpers several operator families share: token similarity and scored beam prompts.

Families import these from here (and from ``base`` and ``llm``), never from each other.
"""

from __future__ import annotations

import re

from flowpo.prompt import Prompt
from flowpo.types import Candidate

_WORD = re.compile(r"\w+")

_STOP = frozenset(
    "a an the and or but of to in on at for with by from as is are was were be been it its "
    "this that these those i you he she we they his her their our my me him them there here "
    "not no so than too very can will would could should do does did has have had just".split()
)


def tokens(text: str) -> frozenset[str]:
    """Return the lower-cased word tokens of ``text`` without stop words."""
    words = frozenset(_WORD.findall(text.lower()))
    return (words - _STOP) or words


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Return the Jaccard similarity of two token sets (0 when both are empty)."""
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def candidate_prompt(candidate: Candidate) -> Prompt | None:
    """Return the candidate's prompt, or ``None`` if its dict does not parse."""
    try:
        return Prompt.from_dict(candidate.prompt)
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def scored_prompts(candidates: list[Candidate]) -> list[tuple[Candidate, Prompt]]:
    """Return the scored candidates with their prompts, best train score first."""
    out = []
    for c in candidates:
        p = candidate_prompt(c)
        if c.train_score is not None and p is not None:
            out.append((c, p))
    return sorted(out, key=lambda cp: -float(cp[0].train_score or 0.0))


def same_prompt(a: Prompt, b: Prompt) -> bool:
    """Return True when two prompts have the same sections, template and verbalizers."""
    return a.to_dict() == b.to_dict()
