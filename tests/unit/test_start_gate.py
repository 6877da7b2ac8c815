"""The retrieving start joins the search only when it clearly beats the plain start;
held back, it is still a finalist, and within the noise a plain prompt wins."""

import asyncio
import json

import pytest
from graph_fakes import TINY, fake_models, write_examples  # noqa: F401

from flowpo.prompt import Prompt
from flowpo.run.rundir import CANDIDATES
from flowpo.run.runner import aoptimize
from flowpo.search.objective import clearly_better
from flowpo.types import EvalResult, ExampleResult


def _result(scores):
    examples = [ExampleResult(str(i), None, None, float(s)) for i, s in enumerate(scores)]
    return EvalResult("fp", "accuracy", sum(scores) / len(scores), examples=examples)


def test_ten_wins_and_one_loss_are_clearly_better_five_and_two_are_not():
    old = _result([0] * 10 + [1] + [1] * 5)
    new = _result([1] * 10 + [0] + [1] * 5)  # 10 wins, 1 loss: 9 > 2 * sqrt(11) = 6.63
    assert clearly_better(new, old) and not clearly_better(old, new)
    old = _result([0] * 5 + [1, 1] + [0] * 9)
    new = _result([1] * 5 + [0, 0] + [0] * 9)  # 5 wins, 2 losses: 3 < 2 * sqrt(7) = 5.29
    assert not clearly_better(new, old)
    assert clearly_better(new, old, z=1.0)  # 3 > 1 * 2.65


def test_only_examples_both_scored_count_and_ties_are_not_wins():
    old = _result([1, 0, 0, 0, 0])
    new = _result([1, 1, 1, 1, 1, 1, 1, 1, 1])  # ids 5-8 unknown to old: not compared
    assert not clearly_better(new, old)  # 4 wins: 4 = 2 * sqrt(4), not more
    assert not clearly_better(old, old)


@pytest.mark.usefixtures("fake_models")
def test_a_held_back_retrieving_start_is_still_judged_on_dev_as_a_finalist(tmp_path):
    data = write_examples(tmp_path / "data.jsonl")
    result = asyncio.run(aoptimize(task=str(data), run_dir=tmp_path / "run", retrieve=1, **TINY))
    cands = [json.loads(line) for line in (tmp_path / "run" / CANDIDATES).read_text().splitlines()]
    k0 = next(c for c in cands if c["id"] == "k0")
    assert k0["held_back"] and k0["train_score"] == 0.5  # ties the start: not searched
    finalists = {f["id"]: f for f in result["finalists"]}
    assert finalists["k0"]["dev"] == 0.5  # but scored on dev beside the beam
    assert result["chosen_id"] != "k0" and result["final"]["train"] == 1.0


def test_within_the_noise_fixed_demonstrations_win_over_retrieved_ones():
    from flowpo.search.selection import choose

    def finalist(cid, retrieve, train, dev):
        prompt = Prompt.from_text("Decide the sentiment.", retrieve=retrieve)
        return {"id": cid, "prompt": prompt.to_dict(), "train_score": train,
                "val_score": dev, "train_soft": 0.0, "val_soft": 0.0}

    # pooled: k = (28 + 28) / 64 = 0.875, p = (27 + 28) / 64 = 0.859; se(k) = 0.041: tied
    k, p = finalist("k", 4, 0.875, 0.875), finalist("p", 0, 0.84375, 0.875)
    assert choose([k, p], 32, 32, 0.0)["id"] == "p"
    far = finalist("f", 0, 0.75, 0.75)  # 0.75 < 0.875 - 0.041: retrieval clearly better
    assert choose([k, far], 32, 32, 0.0)["id"] == "k"
