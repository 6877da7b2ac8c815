"""Prompts a person can deploy: the text and demonstrations name the prompt's label words.

When the label words change, :func:`relabel` rewrites every quoted mention of a label's
old word (``'yes'``) and every demonstration answer (a line ending ``Output: yes``) as
its new word, in one pass (so swapped words do not chain). :func:`stale_words` finds what
a prompt still names that is no longer an answer; the finalizer refuses such a prompt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flowpo.prompt import Prompt, Section


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
