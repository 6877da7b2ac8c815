"""Choosing the final prompt when 32 dev examples cannot tell close finalists apart.

Each finalist is judged on train and dev pooled (twice the examples of dev alone, so half
the noise of a dev-only ranking); finalists whose pooled objective is within one standard
error of the best one tie. Among ties a prompt that tells the labels apart wins over one
that answers one label for (nearly) every train input (:func:`~flowpo.search.policy.one_class`:
no one deploys a constant; on RTE, where the 135M target is at chance, such a prompt
scores the test's share of its one label, 0.47 on seeds 13 and 42); then one with fixed
demonstrations over one that retrieves them per input (no index to deploy, ~5x shorter
inputs); then one that states the task over one whose editable sections are all empty (a
frame alone, :func:`~flowpo.operators.framing.frame_alone`): the instruction is the only
part that carries the task to inputs unlike the 64 it was judged on, and the part a person
reads to know what the prompt does, so an empty one is not a saving but a loss the tie
could not measure (the README job on session 18's code: ``Sentence:``/``Category:``
alone and under the instruction tied on train and dev, 0.844 and 0.781); then one whose
label words are written alike (``Negative``/``Positive`` reads better than
``Negative``/``positive``; a matter of casing, so it comes after); then the shortest
(fewer words to overfit, cheaper to run). The chosen prompt's dev accuracy is reported
with its 95% Wilson interval, so a reader sees how much the dev score can be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from flowpo.operators.framing import says_nothing
from flowpo.prompt import Prompt
from flowpo.search.policy import one_class


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion ``p`` measured on ``n`` examples.

    Example:
        >>> [round(x, 3) for x in wilson(0.75, 32)]
        [0.579, 0.867]
    """
    if n <= 0:
        return (0.0, 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def pooled(c: dict[str, Any], n_train: int, n_dev: int, soft_weight: float) -> float:
    """Return a finalist's objective on train and dev pooled, weighted by their sizes."""
    train = (c.get("train_score") or 0.0) + soft_weight * (c.get("train_soft") or 0.0)
    dev = (c.get("val_score") or 0.0) + soft_weight * (c.get("val_soft") or 0.0)
    return (n_train * train + n_dev * dev) / max(1, n_train + n_dev)


def best(
    finalists: Sequence[dict[str, Any]], n_train: int, n_dev: int, soft_weight: float
) -> dict[str, Any]:
    """Return the finalist with the best pooled objective, before any tie-break."""
    return max(finalists, key=lambda c: pooled(c, n_train, n_dev, soft_weight))


def choose(
    finalists: Sequence[dict[str, Any]],
    n_train: int,
    n_dev: int,
    soft_weight: float,
    alike: Callable[[dict[str, Any]], bool] = lambda c: True,
) -> dict[str, Any]:
    """Return the finalist to deploy among those tied with the best pooled.

    Args:
        finalists: Candidates with ``train_score``/``train_soft`` and ``val_score``/``val_soft``.
        n_train: Train (reward) examples they were scored on.
        n_dev: Dev examples they were scored on.
        soft_weight: Weight of the soft score in the objective.
        alike: Whether a finalist's label words are written alike (preferred among ties).
    """
    scores = [pooled(c, n_train, n_dev, soft_weight) for c in finalists]
    top = best(finalists, n_train, n_dev, soft_weight)
    acc = ((top.get("train_score") or 0.0) * n_train
           + (top.get("val_score") or 0.0) * n_dev) / max(1, n_train + n_dev)
    se = math.sqrt(max(acc * (1 - acc), 1e-4) / max(1, n_train + n_dev))
    tied = [i for i in range(len(finalists)) if scores[i] >= max(scores) - se]
    def preference(i: int) -> tuple[bool, bool, bool, bool, int, float]:
        prompt = Prompt.from_dict(finalists[i]["prompt"])
        constant = one_class(finalists[i].get("per_label") or {})
        silent = says_nothing(prompt)
        words = len(prompt.text.split())
        return constant, bool(prompt.retrieve), silent, not alike(finalists[i]), words, -scores[i]

    return finalists[min(tied, key=preference)]

