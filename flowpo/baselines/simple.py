"""The two reference points without search: the manual prompt and random demonstrations."""

from __future__ import annotations

from flowpo.baselines.common import BaselineResult, Search
from flowpo.prompt import Prompt, Section
from flowpo.tasks.demos import render_demo
from flowpo.tasks.manual import manual_prompt

MAX_DEMO_CHARS = 300
"""Demonstrations longer than this are skipped while shorter ones remain."""


def manual(search: Search) -> Prompt:
    """Return the task's hand-written prompt (the one every optimizer starts from)."""
    return Prompt.from_text(manual_prompt(search.task, list(search.task.reference_prompts)))


async def run_manual(search: Search) -> BaselineResult:
    """The manual prompt: no search, no selection, no target-LM examples spent."""
    return BaselineResult("manual", manual(search), None, None, search.counts())


def fewshot_prompt(search: Search, shots: int) -> Prompt:
    """Return the manual instruction followed by ``shots`` random train demonstrations.

    Demonstrations are rendered in the task's own frame and answered with the label word
    (``Input : a great film Output: yes``), drawn uniformly from the train split.
    """
    pool = [
        ex
        for ex in search.train
        if len(render_demo(search.task, ex)) <= MAX_DEMO_CHARS
    ] or list(search.train)
    demos = search.rng.sample(pool, min(shots, len(pool)))
    text = "\n".join(" ".join(render_demo(search.task, ex).split()) for ex in demos)
    base = manual(search)
    return Prompt((*base.sections, Section("examples", text)))


async def run_fewshot(search: Search, shots: int = 4) -> BaselineResult:
    """Few-shot prompting: the manual instruction plus random demonstrations, no search."""
    return BaselineResult("fewshot", fewshot_prompt(search, shots), None, None, search.counts())
