"""Is an LLM's new section an instruction, or the LM answering as a chat assistant?

A small operator LM asked to rewrite a section sometimes replies instead of rewriting:
it greets ("I'm ready to help. What's the user's question?"), or it answers the task
("The answer is positive.", "The previous answer was ..."). Such text can still score
well on a few training examples (the target mostly ignores it, or it tilts the target
towards one label), but no person would deploy it. :func:`reply_reason` says why a text
reads as a reply; :func:`~flowpo.operators.base.check_section` rejects it, so the draft
is a failed action, credited as such, and never reaches the beam.

Three signs, each something an instruction to a model does not do:

* it opens the way an assistant opens a reply (``Sure``, ``I'm``, ``I'd be happy``);
* it asks the user for their question or offers help (``How can I help?``);
* it states an answer as a fact, unconditionally (``The answer is positive.``), or talks
  about a previous answer (feedback that leaked into the text).

A fourth sign is not a reply but a decoding loop: the same sentence over and over ("This
is a very literal interpretation of a movie review. - This is a very literal ..."). The
repetition can tilt the target on a few training examples; it says nothing to a reader.

An instruction that explains the answers conditionally ("The answer is 'positive' if
...") or describes them ("The answer is one word") passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_OPENER = re.compile(
    r"^\W*(sure|certainly|of course|okay|ok|absolutely|hello|hi|thank you|thanks|great|"
    r"i'm|i am|i'd|i'll|i've|i can|i will|i would|i have|i understand|here is my|here's my)\b",
    re.IGNORECASE,
)
_OFFER = re.compile(
    r"\b(help you|can i help|may i help|happy to help|ready to help|"
    r"the user's question|your question)\b",
    re.IGNORECASE,
)
_PREVIOUS = re.compile(r"\b(previous|last|earlier) answers?\b", re.IGNORECASE)
_CONDITION = re.compile(r"\b(if|when|unless|whether|otherwise|either)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
LOOP_REPEATS = 3
"""A sentence of four words or more said this often in one section is a decoding loop."""


def _looped(sentences: list[str]) -> str | None:
    """Return the first of ``sentences`` said :data:`LOOP_REPEATS` times, if any."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        key = " ".join(re.findall(r"\w+", sentence.lower()))
        if len(key.split()) >= 4:
            counts[key] = counts.get(key, 0) + 1
            if counts[key] >= LOOP_REPEATS:
                return key
    return None


def _stated_answer(sentence: str, words: list[str]) -> str | None:
    """Return the word ``sentence`` states as the answer, unconditionally, if any."""
    if not words or _CONDITION.search(sentence):
        return None
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = rf"\banswer\s+(?:is|was|would be|will be)\s*:?\s*['\"]?({alt})['\"]?\s*[.!]?\s*$"
    found = re.search(pattern, sentence.strip(), re.IGNORECASE)
    return found[1] if found else None


def reply_reason(text: str, answers: Iterable[str] = ()) -> str | None:
    """Return why ``text`` reads as a chat reply rather than an instruction, or ``None``.

    Args:
        text: The new text of a prose section.
        answers: The task's labels and answer words (for "The answer is X.").

    Example:
        >>> reply_reason("I'm ready to help. What's the user's question?")
        'output is a chat reply, not an instruction (it opens like an answer to a user)'
        >>> reply_reason("The review is good. The answer is positive.", ["positive"])
        "output states an answer ('positive'), not how to find one"
        >>> reply_reason("The answer is 'positive' if the review praises the film.", ["positive"])
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if any(_OPENER.match(line) for line in lines):
        return "output is a chat reply, not an instruction (it opens like an answer to a user)"
    if _OFFER.search(text):
        return "output is a chat reply, not an instruction (it offers help to a user)"
    if _PREVIOUS.search(text):
        return "output talks about a previous answer, not the task"
    sentences = _SENTENCE.findall(text)
    looped = _looped(sentences)
    if looped:
        return f"output repeats itself ({looped[:40]!r}...), a decoding loop"
    words = [w for w in {str(a).strip() for a in answers} if w]
    for sentence in sentences:
        stated = _stated_answer(sentence, words)
        if stated:
            return f"output states an answer ({stated!r}), not how to find one"
    return None
