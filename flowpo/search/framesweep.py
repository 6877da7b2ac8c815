"""The frame sweep: a start that ignores its input tries every frame.

A small target that ignores its input (answers one label, or is right at chance) follows
its prior on the label words, and no edit of the instruction moves it; the frame around
the input (with the words that suit it) does. On the medium bench the SST-2 and CR
starts answered one label or at random on seeds 42 and 87,
and a run of 256 examples drew the frame row about once (two random frames per draw), so
it ended where it began unless that draw was lucky (seed 13 drew ``Sentence/Category``:
0.800 against 0.480). The library is small, so such a start has every frame scored on
the screening minibatch, alone (:func:`~flowpo.operators.framing.frame_alone`: the
instruction emptied), each ranked with the label words that suit it there (read from the
same rows, free), and every other frame under the start's instruction; the best alone
and the best under the instruction are then scored in full, each a candidate of its own
(:func:`~flowpo.search.scoring.score_candidates`).

Frames alone are swept as soon as the user's start is scored: on the medium bench's SST-2
and CR the frame was the lever, and scoring the other starts first put the frame that
fixed it behind 96 examples and 14 screenings (returned at 224 examples of 256; swept
first, at 112). Where retrieval is the lever instead (TREC, AG News: the retrieving start
is what the run returns) it now comes after the sweep, at 104-168 examples instead of
96. Frames under the instruction are swept once the starts are scored, under the start
with its own label words only when they were clearly better than the user's (words chosen
on the reward set among dozens of pairs fit its noise: CR seed 13's ``Negative`` won one
example of 32 and, carried into the swept frames, cost 8 points on test). Only library
frames whose domain words the task uses are tried
(:func:`~flowpo.operators.framing.library_frames`).

Frames are tried alone because the instruction is what the start failed with, and it
may be what the target cannot read past: on CR (seeds 13, 42, 87) APE and OPRO in the
hand-written ``Review:``/``Sentiment:`` frame won with a nonsense instruction (0.84 to
0.86) where the task's instruction in that frame scored 0.56, and the frame alone scored
0.84 on the reward set. Whether the instruction then helps in the chosen frame is the
target's and the task's (SST-2's ``Sentence:``/``Category:`` did better under it), so
the best of each kind is scored on the whole reward set.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from flowpo.evaluation import ExampleBudget
from flowpo.operators.base import FRAME
from flowpo.operators.framing import (
    FRAMES,
    Frame,
    frame_alone,
    library_frames,
    says_nothing,
    with_frame,
)
from flowpo.prompt import Prompt
from flowpo.search.coherence import answer_words, relabel
from flowpo.search.labelwords import scored_label_words
from flowpo.search.objective import result_objective
from flowpo.search.policy import one_class
from flowpo.search.refit import refit_words
from flowpo.search.scorer import Scored, Scorer, add_child, charge, searches_words
from flowpo.search.screening import screen_batch


def at_chance(
    per_label: Mapping[str, Mapping[str, float]], accuracy: float, z: float = 2.0
) -> bool:
    """Return whether ``accuracy`` is no better than always answering the commonest label.

    Within ``z`` standard errors of that rate ``m`` on the ``n`` examples the per-label
    supports count: ``accuracy <= m + z * sqrt(m * (1 - m) / n)`` (one-sided, z = 2:
    about 97.5 %). A prompt there tells the labels apart no better than one that ignores
    its input.

    Example:
        32 examples, 16 per label: m = 0.5, bar 0.5 + 2 * 0.088 = 0.677; 0.53 (CR's start
        with its own words, answering either label at random) is at chance, 0.72 is not.

        >>> two = {"neg": {"support": 16}, "pos": {"support": 16}}
        >>> at_chance(two, 0.53), at_chance(two, 0.72)
        (True, False)
    """
    support = [float(m.get("support", 0)) for m in per_label.values()]
    n = sum(support)
    if n <= 0 or len(support) < 2:
        return False
    m = max(support) / n
    return accuracy <= m + z * math.sqrt(m * (1 - m) / n)


def sweeps_frames(scorer: Scorer, start: dict[str, Any]) -> bool:
    """Return True when ``start`` ignores its input, and frames can be tried here.

    It ignores its input when it answers one label for (nearly) every input, or is right
    no more often than that would be (:func:`at_chance`); frames and label words can be
    tried with a local target in verbalizer mode, with screening on.
    """
    per_label = start.get("per_label") or {}
    return (
        scorer.refit_start
        and scorer.screen_size > 0
        and scorer.task.kind == "classification"
        and searches_words(scorer)
        and (one_class(per_label) or at_chance(per_label, float(start.get("train_score") or 0)))
    )


async def sweep_frames(
    scorer: Scorer,
    out: Scored,
    budget: ExampleBudget,
    start: dict[str, Any],
    kinds: Collection[bool] = (True, False),
) -> list[dict[str, Any]]:
    """Screen every frame alone and under the instruction; score the best of each in full.

    Every library frame alone, then every other frame under the start's instruction
    (:func:`sweep_variants`; only the ``kinds`` asked for: ``True`` alone, ``False``
    under the instruction), is scored on the screening minibatch and ranked by the
    objective its best label words reach on those rows (a prompt whose text names its
    words is relabelled with them there: relabelling it later would cost a scoring). The
    best of each kind is scored on the whole reward set (the minibatch is cached),
    relabelled only when the words that suit all of it are clearly better there
    (:func:`~flowpo.search.refit.refit_words`): children of ``start``, action
    ``(frame, frame)``, id suffix ``f0`` alone and ``f1`` under the instruction, as far
    as the budget pays. Return their rows.
    """
    task, w = scorer.task, scorer.soft_weight
    train = task.split("train")
    batch = screen_batch(train, scorer.screen_size)
    best: dict[bool, tuple[float, Prompt]] = {}  # alone or not -> the best screened
    prompt = Prompt.from_dict(start["prompt"])
    for framed in sweep_variants(prompt, task.template, library_frames(task, prompt)):
        if says_nothing(framed) not in kinds:
            continue
        if not budget.fits(scorer.evaluator.uncached(framed, batch)):
            break
        result = await scorer.evaluator.aevaluate(framed, batch)
        charge(out, budget, result)
        words, estimate = await scored_label_words(
            scorer.target, task, framed, batch, w, embed=scorer.embed
        )
        mine = result_objective(result, w)
        alone = says_nothing(framed)
        if not alone and estimate is not None and estimate > mine:
            framed = relabel(framed, answer_words(framed, task), words)
        score = max(mine, estimate or mine)
        if alone not in best or score > best[alone][0]:  # library order on a tie
            best[alone] = (score, framed)
    rows = []
    for alone, (_, framed) in sorted(best.items(), key=lambda kv: -kv[1][0]):
        if not budget.fits(scorer.evaluator.uncached(framed, train)):
            break
        result = await scorer.evaluator.aevaluate(framed, train)
        framed, result = await refit_words(scorer, framed, result, train, budget)
        charge(out, budget, result)
        suffix = "f0" if alone else "f1"
        rows.append(add_child(scorer, out, start, suffix, framed, (FRAME, Frame.name), result))
    return rows


def sweep_variants(
    prompt: Prompt, task_template: str, frames: Sequence[str] = FRAMES
) -> list[Prompt]:
    """Return the prompts the sweep screens: every frame alone, then each other frame.

    Alone is the frame with the instruction emptied
    (:func:`~flowpo.operators.framing.frame_alone`), the prompt's own frame included;
    then each other frame (``frames`` order: the library's that fit the task,
    :func:`~flowpo.operators.framing.library_frames`) under the prompt's instruction. A
    prompt whose editable sections are empty
    (:func:`~flowpo.operators.framing.says_nothing`) has only the first group.
    """
    current = prompt.template or task_template
    alone = [frame_alone(with_frame(prompt, f)) for f in frames]
    if says_nothing(prompt):
        return alone
    return alone + [with_frame(prompt, f) for f in frames if f != current]
