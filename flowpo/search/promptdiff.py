"""Differences between two prompts: a compact unified diff and word-level opcodes."""

from __future__ import annotations

import difflib
import re

from flowpo.prompt import Prompt

MAX_DIFF = 1500


def prompt_diff(old: Prompt, new: Prompt, *, limit: int = MAX_DIFF) -> str:
    """Return the changed lines of ``new`` against ``old`` (Markdown form, no context).

    Example:
        >>> from flowpo.prompt import Prompt, Section
        >>> a = Prompt((Section("task", "Say yes."),))
        >>> b = Prompt((Section("task", "Say yes or no."),))
        >>> print(prompt_diff(a, b))
        - Say yes.
        + Say yes or no.
    """
    lines = difflib.unified_diff(
        old.to_markdown().splitlines(), new.to_markdown().splitlines(), n=0, lineterm=""
    )
    body = [ln for ln in lines if not ln.startswith(("---", "+++", "@@"))]
    text = "\n".join(f"{ln[0]} {ln[1:]}" for ln in body)
    return text if len(text) <= limit else text[:limit] + " …"


def word_ops(old: str, new: str) -> list[tuple[str, str]]:
    """Return ``(tag, text)`` pieces turning ``old`` into ``new``: ``=``, ``-`` or ``+``.

    Example:
        >>> word_ops("a b c", "a x c")
        [('=', 'a '), ('-', 'b'), ('+', 'x'), ('=', ' c')]
    """
    a, b = re.split(r"(\s+)", old), re.split(r"(\s+)", new)
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return [(t, s) for t, s in out if s]
