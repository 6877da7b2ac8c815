"""Scoring candidates on train through the example budget, and on dev and test.

A new frame is judged with its own best label words; the best prompt's dev score is
taken once per new best.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowpo.evaluation import Evaluator, ExampleBudget
from flowpo.memory.experience import remembered_score
from flowpo.operators.base import LABEL_WORDS
from flowpo.prompt import Prompt
from flowpo.search.coherence import answer_words, relabel
from flowpo.search.framesweep import sweep_frames, sweeps_frames
from flowpo.search.objective import clearly_better, objective, result_objective
from flowpo.search.refit import refit_words, with_best_words
from flowpo.search.scorer import (
    Scored,
    Scorer,
    add_child,
    candidate_keys,
    charge,
    searches_words,
    train_fields,
)
from flowpo.search.screening import screen
from flowpo.types import EvalResult, Example


async def score_candidates(
    scorer: Scorer,
    pending: Sequence[dict[str, Any]],
    budget: ExampleBudget,
    *,
    first: bool,
    parents: Mapping[str, dict[str, Any]] | None = None,
    on_scored: Callable[[int, Scored], None] | None = None,
) -> Scored:
    """Score ``pending`` on train through ``budget``; reuse remembered near-duplicates.

    A candidate is scored only when its uncached train examples fit in the budget left
    (the initial prompt, ``first``, always is); a remembered score costs nothing. With
    screening on, an edit is first scored on a minibatch of train beside its parent
    (:func:`screen`), and only one that beats its parent there is scored on the rest
    (ProTeGi's and GEPA's way of spending the reward set on promising prompts); a new
    frame is judged with its own label words, on the minibatch and again on the rest.
    At epoch 0 the plain start is also scored with its own best label words (a candidate
    of its own, :func:`add_start_with_own_words`); a retrieving start is scored with its
    own words and with the words that clearly won there (:func:`score_retrieving_start`),
    and the one that stands joins the search only when it is :func:`clearly_better` than
    the plain start (it changes every input's prompt and keeps its words, so a win within the
    reward set's noise is not worth it); held back, it is still judged on dev at the end.
    A plain start that ignores its input (one label, or at chance) has every library frame
    tried (:mod:`~flowpo.search.framesweep`). ``on_scored(n, so_far)`` is called after
    each candidate.
    """
    counts = {"examples_scored": 0.0, "examples_cached": 0.0, "tokens": 0.0}
    out = Scored(counts=counts, spent=budget.spent)
    start: StartBar | None = None
    start_row: dict[str, Any] | None = None  # the plain start's candidate (or with its words)
    alone_swept = False
    for n, cand in enumerate(pending, 1):
        if on_scored is not None and n > 1:
            on_scored(n - 1, out)
        if first and is_retrieving_start(cand):
            await score_retrieving_start(scorer, out, budget, cand, start)
            continue
        scored = await score_one(scorer, out, budget, cand, first=first, parents=parents)
        if scored is None or not first or scored[0].get("action"):
            continue
        if start is None:
            start, start_row = StartBar(None, scored[2]), out.candidates[-1]
            if sweeps_frames(scorer, start_row):  # frames alone first: see the docstring
                await sweep_frames(scorer, out, budget, start_row, kinds=(True,))
                alone_swept = True
        if refits_start(scorer, scored[0], scored[1]):
            own = await add_start_with_own_words(scorer, out, budget, scored[0], scored[1])
            w = scorer.soft_weight
            if own and clearly_better(own[1], start.result):
                start, start_row = StartBar(*own), out.candidates[-1]
            elif own and result_objective(own[1], w) > result_objective(start.result, w):
                start = StartBar(None, own[1])  # the bar for retrieval; its words are noise
    if first and start_row is not None and sweeps_frames(scorer, start_row):
        kinds = (False,) if alone_swept else (True, False)
        await sweep_frames(scorer, out, budget, start_row, kinds=kinds)
    if on_scored is not None and pending:
        on_scored(len(pending), out)
    return out


@dataclass(frozen=True)
class StartBar:
    """What the plain start sets for the retrieving start scored after it.

    Attributes:
        words: Label words :func:`clearly_better` than the user's on the plain start
            (the retrieving start is also tried with them), or ``None``.
        result: The plain start's best result: retrieval joins the search only when
            :func:`clearly_better` than it.
    """

    words: dict[str, str] | None
    result: EvalResult


HELD_BACK = "retrieval did not clearly beat the plain start on the reward set"
"""Why a retrieving start stays out of the beam (``held_back`` of its candidate); it stays
a finalist (the evaluate node's ``reserve``), judged on dev beside the search's best."""
SUPERSEDED = "the same retrieving start stands with the other label words"
"""Why a retrieving start is neither searched nor a finalist (``superseded``)."""


def is_retrieving_start(cand: Mapping[str, Any]) -> bool:
    """Return True when ``cand`` is a start (no action) that retrieves its demonstrations."""
    return not cand.get("action") and bool(Prompt.from_dict(cand["prompt"]).retrieve)


async def score_retrieving_start(
    scorer: Scorer,
    out: Scored,
    budget: ExampleBudget,
    cand: dict[str, Any],
    start: StartBar | None,
) -> None:
    """Score a retrieving start with its own words and with those the plain start won with.

    Its demonstrations answer in its label words, so words refit on the plain start's rows
    (a prompt without demonstrations, often answering one label for every input: CR's
    ``negatively``) may suit it or not. Both are scored (the second only when ``start``
    carries words, i.e. they were :func:`clearly_better` than the plain start's own, and
    the budget pays: on the medium bench's 24 runs of session 17 the second never stood,
    and on the collapsed starts it cost the 32 examples a swept frame needed); its own
    words stand for retrieval unless the others are :func:`clearly_better`
    (the same sign test as the gate: on CR, seeds 42 and 87, ``negatively``/``Positive``
    won the reward set by 4 and 1 examples of 32 and lost test by 6.6 points to the
    task's words), and the other is ``superseded``. It joins the search only when
    :func:`clearly_better` than the plain start; held back, it is still judged on dev at
    the end.
    """
    train = scorer.task.split("train")
    variants = [cand]
    if start is not None and start.words:
        other = retrieving_start_with(scorer, cand, start.words)
        if other["prompt"] != cand["prompt"]:
            variants.append({**other, "id": f"{cand['id']}w", "parent_id": cand["id"],
                             "action": [LABEL_WORDS, LABEL_WORDS]})
    scored: list[tuple[dict[str, Any], EvalResult]] = []
    for variant in variants:
        prompt = Prompt.from_dict(variant["prompt"])
        if variant is not cand and not budget.fits(scorer.evaluator.uncached(prompt, train)):
            break
        one = await score_one(scorer, out, budget, variant, first=True, parents=None)
        if one is not None:
            scored.append((out.candidates[-1], one[2]))
    if not scored:
        return
    best = scored[0]  # its own words, unless the plain start's are clearly better
    for row, result in scored[1:]:
        if clearly_better(result, best[1]):
            best = (row, result)
    for row, _ in scored:
        if row is not best[0]:
            row["superseded"] = SUPERSEDED
    if start is not None and not clearly_better(best[1], start.result):
        best[0]["held_back"] = HELD_BACK


async def score_one(
    scorer: Scorer,
    out: Scored,
    budget: ExampleBudget,
    cand: dict[str, Any],
    *,
    first: bool,
    parents: Mapping[str, dict[str, Any]] | None,
) -> tuple[dict[str, Any], Prompt, EvalResult] | None:
    """Score one candidate into ``out``; return it, its prompt and result when fully scored.

    ``None`` when it was served from memory, left unpaid or screened out.
    """
    train = scorer.task.split("train")
    prompt = Prompt.from_dict(cand["prompt"])
    keys = candidate_keys(scorer.task, prompt, train)
    known = remembered_score(scorer.memory, prompt.text, scorer.task.name, scorer.model, keys)
    if known is not None:
        out.counts["examples_from_memory"] = out.counts.get("examples_from_memory", 0) + len(
            train
        )
        out.add({**cand, **known, **keys, "from_memory": True})
        return None
    parent = (parents or {}).get(cand.get("parent_id") or "")
    edit = parent is not None and bool(cand.get("action"))  # not a reviewer's own prompt
    frame = is_new_frame(cand, scorer)
    extra = scorer.screen_size if frame and edit else 0  # its screen may relabel it
    paid = first or budget.limit is None
    if not paid and not budget.fits(scorer.evaluator.uncached(prompt, train) + extra):
        out.unpaid.add(cand["id"])
        return None
    if scorer.screen_size and edit and parent:
        level = objective(parent, scorer.soft_weight) if "train_score" in parent else None
        screened = await screen(
            scorer, prompt, Prompt.from_dict(parent["prompt"]), train, refit=frame, level=level
        )
        charge(out, budget, screened.child, screened.parent)
        prompt, keys = screened.prompt, candidate_keys(scorer.task, screened.prompt, train)
        cand = {**cand, "prompt": prompt.to_dict()}  # a frame: with its own words
        if not screened.passed:
            out.add({**cand, **keys, **screened.fields()})
            return None
    result = await scorer.evaluator.aevaluate(prompt, train)
    if frame:  # a frame is judged with its own best label words
        prompt, result = await refit_words(scorer, prompt, result, train, budget)
        keys["near_key"] = prompt.near_key(scorer.task.template, scorer.task.verbalizers)
        cand = {**cand, "prompt": prompt.to_dict()}
    charge(out, budget, result)
    out.add({**cand, **keys, **train_fields(result)})
    return cand, prompt, result


def retrieving_start_with(
    scorer: Scorer, cand: dict[str, Any], words: dict[str, str]
) -> dict[str, Any]:
    """Return a retrieving start relabelled with ``words`` (other candidates unchanged).

    Scored beside the retrieving start with its own words (:func:`score_retrieving_start`),
    so the two starts can also be compared with their demonstrations alone differing.
    """
    prompt = Prompt.from_dict(cand["prompt"])
    if not prompt.retrieve or cand.get("action"):
        return cand
    prompt = relabel(prompt, answer_words(prompt, scorer.task), words)
    return {**cand, "prompt": prompt.to_dict()}


def refits_start(scorer: Scorer, cand: dict[str, Any], prompt: Prompt) -> bool:
    """Return True when ``cand`` is a plain start whose label words the search may refit."""
    return (
        scorer.refit_start
        and not cand.get("action")
        and not prompt.retrieve
        and scorer.task.kind == "classification"
        and searches_words(scorer)
    )


async def add_start_with_own_words(
    scorer: Scorer,
    out: Scored,
    budget: ExampleBudget,
    start: dict[str, Any],
    prompt: Prompt,
) -> tuple[dict[str, str], EvalResult] | None:
    """Score the start relabelled with the words that suit it; return the words and result.

    The task's default words (often "yes"/"no" for a sentiment instruction) hold a
    small target's start down, and label words are the cheapest large lever: their
    search reads the rows the start's scoring just computed. The relabelled start is a
    candidate of its own, child of the start (the user's start stays as given, for the
    report), scored and charged when the budget can pay for it.
    """
    task = scorer.task
    train = task.split("train")
    found = await with_best_words(scorer, prompt, train)
    if found is None or not budget.fits(scorer.evaluator.uncached(found[1], train)):
        return None
    words, refit = found
    second = await scorer.evaluator.aevaluate(refit, train)
    charge(out, budget, second)
    add_child(scorer, out, start, "w", refit, (LABEL_WORDS, LABEL_WORDS), second)
    return words, second


def is_new_frame(cand: dict[str, Any], scorer: Scorer) -> bool:
    """Return True when ``cand`` was made by the ``frame`` operator in verbalizer mode."""
    action = list(cand.get("action") or [])
    return (
        len(action) == 2
        and action[1] == "frame"
        and searches_words(scorer)
    )


async def split_score(
    evaluator: Evaluator, cand: dict[str, Any], examples: Sequence[Example]
) -> EvalResult:
    """Score a candidate's prompt on a split outside the budget (dev or test)."""
    return await evaluator.aevaluate(Prompt.from_dict(cand["prompt"]), examples)


async def best_dev(
    scorer: Scorer,
    best: dict[str, Any] | None,
    history: Sequence[dict[str, Any]],
    counts: dict[str, float],
) -> float | None:
    """Return the best prompt's dev score, scored once per new best (finalize reuses it)."""
    if not best or not scorer.task.splits.get("dev"):
        return None
    last = history[-1] if history else {}
    if last.get("best_id") == best["id"] and last.get("best_dev") is not None:
        return float(last["best_dev"])
    outcome = await split_score(scorer.evaluator, best, scorer.task.split("dev"))
    counts["dev_examples_scored"] = counts.get("dev_examples_scored", 0) + outcome.model_calls
    counts["examples_cached"] = counts.get("examples_cached", 0) + outcome.cached
    return outcome.score
