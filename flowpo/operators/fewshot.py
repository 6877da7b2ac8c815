"""The Few-Shot operator: fill the examples section with demonstrations from the pool.

PromptFlow's Few-Shot operator "extracts samples from the origin dataset utilizing
different sampling strategies". Four strategies are offered (random, label-balanced,
hard = close to the current bad cases, diverse = greedy max-min lexical distance); the
operator returns one prompt per strategy whose demonstration set is new, and, when the run
offers it, one that retrieves each input's nearest labelled examples instead
(:mod:`flowpo.evaluation.retrieval`). No LLM is used.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace

from flowpo.evaluation.retrieval import with_retrieval
from flowpo.operators.base import (
    BAD_CASES,
    DEMONSTRATIONS,
    EXAMPLES,
    Operator,
    OperatorContext,
    OperatorResult,
    check_section,
    register,
)
from flowpo.operators.common import jaccard, tokens
from flowpo.prompt import Prompt, Section
from flowpo.tasks.demos import render_demo
from flowpo.tasks.task import Task
from flowpo.types import Example

MAX_DEMO_CHARS = 300
"""Demonstrations longer than this are skipped while shorter ones remain."""

Strategy = Callable[[list[Example], int, random.Random, OperatorContext], list[Example]]


def select_random(
    pool: list[Example], k: int, rng: random.Random, ctx: OperatorContext
) -> list[Example]:
    """Return ``k`` examples drawn uniformly without replacement."""
    return rng.sample(pool, min(k, len(pool)))


def select_balanced(
    pool: list[Example], k: int, rng: random.Random, ctx: OperatorContext
) -> list[Example]:
    """Return ``k`` examples taken round-robin over the labels (random for generation)."""
    if ctx.task.kind != "classification":
        return select_random(pool, k, rng, ctx)
    groups: dict[str, list[Example]] = {lab: [] for lab in ctx.task.labels}
    for ex in pool:
        groups.setdefault(str(ex.target), []).append(ex)
    queues = [rng.sample(g, len(g)) for g in groups.values() if g]
    out: list[Example] = []
    while len(out) < k and any(queues):
        for q in queues:
            if q and len(out) < k:
                out.append(q.pop())
    return out


def select_hard(
    pool: list[Example], k: int, rng: random.Random, ctx: OperatorContext
) -> list[Example]:
    """Return the bad cases found in the pool, then each bad case's nearest examples in turn."""
    if not ctx.bad_cases:
        return []
    bad = [bc.example for bc in ctx.bad_cases]
    out = [ex for ex in pool if ex in bad][:k]
    rest = [ex for ex in rng.sample(pool, len(pool)) if ex not in out]
    toks = [tokens(ctx.task.format_input(ex)) for ex in rest]
    rankings = []
    for bc in ctx.bad_cases:
        query = tokens(bc.text)
        rankings.append(sorted(range(len(rest)), key=lambda i: -jaccard(toks[i], query)))
    taken: set[int] = set()
    while len(out) < k and len(taken) < len(rest):
        for ranking in rankings:
            i = next((i for i in ranking if i not in taken), None)
            if i is not None and len(out) < k:
                taken.add(i)
                out.append(rest[i])
    return out


def select_diverse(
    pool: list[Example], k: int, rng: random.Random, ctx: OperatorContext
) -> list[Example]:
    """Return ``k`` examples chosen greedily to maximise the minimum token-Jaccard distance."""
    if not pool:
        return []
    order = rng.sample(pool, len(pool))
    toks = [tokens(ctx.task.format_input(ex)) for ex in order]
    chosen = [0]
    nearest = [1.0 - jaccard(t, toks[0]) for t in toks]
    while len(chosen) < min(k, len(order)):
        best = max((i for i in range(len(order)) if i not in chosen), key=lambda i: nearest[i])
        chosen.append(best)
        nearest = [min(d, 1.0 - jaccard(t, toks[best])) for d, t in zip(nearest, toks, strict=True)]
    return [order[i] for i in chosen]


STRATEGIES: dict[str, Strategy] = {
    "random": select_random,
    "balanced": select_balanced,
    "hard": select_hard,
    "diverse": select_diverse,
}
"""Selection strategies by name, in the order their prompts are returned."""


def _demo_task(task: Task, prompt: Prompt) -> Task:
    """Return the task with the prompt's verbalizer overrides applied."""
    if not prompt.verbalizers:
        return task
    return replace(task, verbalizers={**task.verbalizers, **prompt.verbalizers})


def _short_pool(pool: Sequence[Example], demo: Callable[[Example], str], k: int) -> list[Example]:
    """Return the pool without over-long demos, padded with the shortest long ones to ``k``."""
    short = [ex for ex in pool if len(demo(ex)) <= MAX_DEMO_CHARS]
    if len(short) >= k:
        return short
    long = sorted((ex for ex in pool if len(demo(ex)) > MAX_DEMO_CHARS), key=lambda e: len(demo(e)))
    return short + long[: k - len(short)]


def _place(prompt: Prompt, text: str) -> Prompt:
    """Return ``prompt`` with the examples section set, appended last if absent.

    Demonstrations go right before the input, the usual few-shot layout, so the last
    thing the target reads before the input is the pattern it should continue; Define
    Sort can still move the section.
    """
    prompt = replace(prompt, retrieve=0)  # fixed demonstrations replace retrieved ones
    if EXAMPLES in [s.name for s in prompt.sections]:
        return prompt.with_section(EXAMPLES, text)
    return replace(prompt, sections=(*prompt.sections, Section(EXAMPLES, text)))


@register
class FewShot(Operator):
    """Put ``n_shots`` demonstrations from the pool in the examples section.

    When retrieval is offered (``ctx.nearest``), one more prompt retrieves each input's
    nearest labelled examples instead; a fixed set replaces a retrieving prompt's.
    """

    name = "few_shot"
    description = (
        "Fill the examples section with demonstrations chosen at random, "
        "balanced over labels, close to the bad cases, or diverse."
    )
    writes = EXAMPLES
    needs = frozenset({DEMONSTRATIONS})
    uses = frozenset({BAD_CASES})

    async def apply(self, prompt: Prompt, section: str, ctx: OperatorContext) -> OperatorResult:
        """Return one prompt per strategy whose demonstration set differs from the current."""
        result = OperatorResult()
        if any(s.name == EXAMPLES and s.frozen for s in prompt.sections):
            result.rejected.append(f"section {EXAMPLES!r} is frozen")
            return result
        source = ctx.pool or ctx.train
        if not source or ctx.n_shots < 1:
            result.rejected.append("no examples to draw demonstrations from")
            return result
        task = _demo_task(ctx.task, prompt)
        cache: dict[int, str] = {}

        def demo(ex: Example) -> str:
            if id(ex) not in cache:
                cache[id(ex)] = " ".join(render_demo(task, ex, prompt.template).split())
            return cache[id(ex)]

        pool = _short_pool(source, demo, ctx.n_shots)
        current = next((s.text for s in prompt.sections if s.name == EXAMPLES), "")
        seen = {frozenset(line.strip() for line in current.splitlines() if line.strip())}
        for name, strategy in STRATEGIES.items():
            demos = [demo(ex) for ex in strategy(pool, ctx.n_shots, ctx.rng, ctx)]
            while len(demos) > 1 and len("\n".join(demos)) > ctx.max_examples_chars:
                demos.pop()
            if not demos or frozenset(demos) in seen:
                result.rejected.append(f"{name}: no new demonstration set")
                continue
            seen.add(frozenset(demos))
            text = "\n".join(demos)
            reason = check_section(prompt, EXAMPLES, text, ctx)
            if reason:
                result.rejected.append(f"{name}: {reason}")
            else:
                result.prompts.append(_place(prompt, text))
        if ctx.nearest and not prompt.retrieve:
            result.prompts.append(with_retrieval(prompt, ctx.nearest))
        return result
