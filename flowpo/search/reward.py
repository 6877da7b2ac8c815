"""The reward set: the train examples a candidate is scored on, sized to the example budget.

A search that can pay for only two or three full scorings cannot search: on TREC (96
train examples) a 256-example budget paid for the start and one edit, and the run ended
before any frame was tried. With an example budget, the reward set is therefore capped so
that the budget pays for at least :data:`FULL_SCORINGS` full scorings (MIPROv2 scores
candidates on minibatches of 35 for the same reason). The train examples left out are not
lost: demonstrations are drawn from them as before (they join the task's pool, or, without
one, the whole train split becomes the pool).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import replace

from flowpo.tasks.task import Task
from flowpo.types import Example

FULL_SCORINGS = 8
"""Full scorings of a candidate the example budget must pay for, at the least."""
MIN_REWARD = 8
"""The reward set is never capped below this many examples."""


def stratified(examples: Sequence[Example]) -> list[Example]:
    """Return ``examples`` in a fixed order that takes every label in turn.

    The order within a label is by a hash of the example id, so it does not depend on
    the order of the data file; every prefix is as balanced as the labels allow.
    """
    ranked = sorted(examples, key=lambda e: hashlib.sha1(str(e.id).encode()).hexdigest())
    by_label: dict[str, list[Example]] = {}
    for ex in ranked:
        by_label.setdefault(str(ex.target), []).append(ex)
    return [ex for group in itertools.zip_longest(*by_label.values()) for ex in group if ex]


def reward_cap(budget: int | None, setting: int | None) -> int | None:
    """Return how many train examples the reward set may hold (``None``: all of train).

    Args:
        budget: The run's example budget (``None``: no budget).
        setting: ``reward_examples`` as configured: ``None`` sizes the set to the budget,
            ``0`` keeps all of train, a number caps it there.

    Example:
        >>> reward_cap(256, None), reward_cap(None, None), reward_cap(256, 0), reward_cap(256, 50)
        (32, None, None, 50)
    """
    if setting is not None:
        return setting or None
    if budget is None:
        return None
    return max(MIN_REWARD, budget // FULL_SCORINGS)


def reward_task(task: Task, cap: int | None) -> Task:
    """Return ``task`` with its train split cut to ``cap`` examples (the rest: pool)."""
    train = task.splits.get("train") or []
    if cap is None or len(train) <= cap:
        return task
    order = stratified(train)
    kept = {e.id for e in order[:cap]}
    old = task.splits.get("pool") or []  # demonstrations come from the pool, else train
    pool = [*old, *order[cap:]] if old else list(train)
    splits = {**task.splits, "train": [e for e in train if e.id in kept], "pool": pool}
    return replace(task, splits=splits)
