"""Prompts a person can deploy: the text and demonstrations name the prompt's label words.

When the label words change, :func:`relabel` rewrites every quoted mention of a label's
old word (``'yes'``) and every demonstration answer (a line ending ``Output: yes``) as
its new word, in one pass (so swapped words do not chain). :func:`stale_words` finds what
a prompt still names that is no longer an answer; the finalizer refuses such a prompt, and
one whose text reads as a chat reply (:func:`incoherent`).
:func:`alike_variants` writes mixed-case label words (``Negative``/``positive``) alike,
for the finalizer to prefer when they score within the noise of the mixed ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from flowpo.operators.base import EXAMPLES
from flowpo.prompt import Prompt, Section
from flowpo.search.replies import reply_reason


def answer_words(prompt: Prompt, task: Any) -> dict[str, str]:
    """Return the word each label is answered with (the task's, overridden by the prompt's)."""
    return {**task.verbalizers, **(prompt.verbalizers or {})}


def _patterns(words: list[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    quoted = re.compile(rf"(['\"])({alt})\1")
    answer = re.compile(rf"(?m)(:[ \t]*)({alt})([ \t]*)$")
    return quoted, answer


def relabel(prompt: Prompt, old: Mapping[str, str], new: Mapping[str, str]) -> Prompt:
    """Return ``prompt`` with ``new`` label words, its text and demonstrations rewritten.

    Args:
        prompt: The prompt whose sections named the ``old`` words.
        old: Label -> the word the sections were written for.
        new: Label -> the word to use from now on (also set as the prompt's words).

    Example:
        >>> p = Prompt((Section("format", "Answer 'no' or 'yes'."),))
        >>> relabel(p, {"neg": "no", "pos": "yes"}, {"neg": "bad", "pos": "good"}).text
        "Answer 'bad' or 'good'."
    """
    mapping = {old[k]: new[k] for k in new if k in old and old[k] != new[k]}
    out = replace(prompt, verbalizers=dict(new))
    if not mapping:
        return out
    quoted, answer = _patterns(list(mapping))

    def fix(text: str) -> str:
        text = quoted.sub(lambda m: f"{m[1]}{mapping[m[2]]}{m[1]}", text)
        return answer.sub(lambda m: f"{m[1]}{mapping[m[2]]}{m[3]}", text)

    sections = tuple(
        s if s.frozen else Section(s.name, fix(s.text), s.frozen) for s in prompt.sections
    )
    return replace(out, sections=sections)


def stale_words(prompt: Prompt, task: Any) -> list[str]:
    """Return the task's answer words that ``prompt`` still names but no longer answers with.

    A word counts when it is quoted or a demonstration's answer.
    """
    if not task.labels:
        return []
    current = set(answer_words(prompt, task).values())
    stale = set(task.verbalizers.values()) - current - set(task.labels)
    if not stale:
        return []
    quoted, answer = _patterns(sorted(stale))
    found = {m[2] for s in prompt.sections for m in quoted.finditer(s.text)}
    found |= {m[2] for s in prompt.sections for m in answer.finditer(s.text)}
    return sorted(found)


def incoherent(prompt: Prompt, task: Any) -> str | None:
    """Return why ``prompt`` is not one a person would deploy, or ``None``.

    Either it names answer words it does not answer with (:func:`stale_words`), or one of
    its prose sections reads as a chat reply or states an answer
    (:func:`~flowpo.search.replies.reply_reason`).
    """
    stale = stale_words(prompt, task)
    if stale:
        return f"names answer words it does not answer with: {', '.join(stale)}"
    words = [*task.labels, *answer_words(prompt, task).values()]
    for s in prompt.sections:
        reason = None if s.name == EXAMPLES else reply_reason(s.text, words)
        if reason:
            return f"section {s.name!r}: {reason}"
    return None


def written_alike(words: Iterable[str]) -> bool:
    """Return whether the words that start with a letter all start in the same case.

    Example:
        >>> written_alike(["Negative", "positive"]), written_alike(["no", "yes", "42"])
        (False, True)
    """
    return len({w[:1].isupper() for w in words if w[:1].isalpha()}) <= 1


def alike_variants(prompt: Prompt, task: Any) -> list[Prompt]:
    """Return ``prompt`` with its label words capitalised alike, then lower-cased alike.

    Empty when the words are already written alike (or the task has no labels); a variant
    whose words would collide is left out. Text and demonstrations follow the new words.

    Example:
        >>> class T: labels, verbalizers = ["neg", "pos"], {"neg": "Negative", "pos": "positive"}
        >>> [v.verbalizers for v in alike_variants(Prompt(()), T())]
        [{'neg': 'Negative', 'pos': 'Positive'}, {'neg': 'negative', 'pos': 'positive'}]
    """
    if not task.labels:
        return []
    words = {k: w for k, w in answer_words(prompt, task).items() if k in task.labels}
    if written_alike(words.values()):
        return []
    out = []
    for case in (str.upper, str.lower):
        new = {k: case(w[:1]) + w[1:] for k, w in words.items()}
        if len(set(new.values())) == len(new):
            out.append(relabel(prompt, words, new))
    return out
