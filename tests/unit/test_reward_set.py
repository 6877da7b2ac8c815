"""The reward set: sized to the example budget, balanced, the rest kept for demonstrations."""

from collections import Counter

import pytest

from flowpo.config import OptimizeConfig
from flowpo.search.reward import reward_cap, reward_task
from flowpo.tasks.task import Task
from flowpo.types import Example


def _task(pool: int = 0) -> Task:
    train = [Example(f"t{i}", f"text {i}", ("a", "b", "c")[i % 3]) for i in range(30)]
    extra = [Example(f"p{i}", f"pool {i}", "a") for i in range(pool)]
    return Task(
        "toy",
        "classification",
        "accuracy",
        labels=("a", "b", "c"),
        verbalizers={"a": "a", "b": "b", "c": "c"},
        splits={"train": train, "dev": train[:3], "test": train[:3], "pool": extra},
    )


def test_the_cap_lets_the_budget_pay_for_eight_full_scorings():
    assert reward_cap(256, None) == 32  # 256 / 8
    assert reward_cap(40, None) == 8  # never below eight examples
    assert reward_cap(None, None) is None  # no budget: all of train
    assert reward_cap(256, 0) is None and reward_cap(256, 12) == 12  # as configured


def test_the_reward_set_is_balanced_and_the_rest_stay_demonstrations():
    task = reward_task(_task(), 12)
    train = task.split("train")
    assert len(train) == 12 and Counter(e.target for e in train) == {"a": 4, "b": 4, "c": 4}
    assert {e.id for e in task.splits["pool"]} == {f"t{i}" for i in range(30)}  # was the source
    assert reward_task(_task(), 12).split("train") == train  # the same set every time
    pooled = reward_task(_task(pool=5), 12)
    assert len(pooled.splits["pool"]) == 5 + 18  # a pool of its own: the cut joins it
    assert reward_task(_task(), 30).split("train") == _task().split("train")


def test_reward_examples_is_checked():
    with pytest.raises(ValueError, match="reward_examples"):
        OptimizeConfig(task="sst2", reward_examples=-1)
