"""Minibatch screening: an edit is scored on the rest of train only if it beats its parent."""

import asyncio

import pytest
from graph_fakes import ReminderLM, write_examples

from flowpo.evaluation import EvalCache, Evaluator, ExampleBudget
from flowpo.prompt import Prompt
from flowpo.search.credit import credit
from flowpo.search.scorer import Scorer
from flowpo.search.scoring import score_candidates
from flowpo.search.screening import Screening, screen_batch
from flowpo.tasks import task_from_file
from flowpo.types import EvalResult


def _setup(tmp_path):
    task = task_from_file(write_examples(tmp_path / "d.jsonl"))
    target = ReminderLM()
    ev = Evaluator(task, target, cache=EvalCache())
    return task, target, Scorer(task, target, ev, "fake", soft_weight=0.0, screen_size=2)


def _cand(cid, text, parent=None):
    return {
        "id": cid, "prompt": Prompt.from_text(text).to_dict(), "parent_id": parent,
        "action": ["task", "refine"] if parent else None,
    }


def test_an_edit_that_does_not_beat_its_parent_costs_only_the_minibatch(tmp_path):
    task, target, scorer = _setup(tmp_path)
    train = task.split("train")
    assert len(train) == 4 and {e.target for e in screen_batch(train, 2)} == {
        "negative", "positive"
    }
    budget = ExampleBudget()
    first = asyncio.run(score_candidates(scorer, [_cand("c0", "Judge.")], budget, first=True))
    parent = first.candidates[0]
    assert budget.spent == 4 and parent["train_score"] == 0.5
    same = _cand("e1-0", "Judge it.", "c0")  # no 'Remember:': still half right
    better = _cand("e1-1", "Judge. Remember: good or bad.", "c0")
    out = asyncio.run(
        score_candidates(scorer, [same, better], budget, first=False, parents={"c0": parent})
    )
    by_id = {c["id"]: c for c in out.candidates}
    assert by_id["e1-0"]["screened"] and by_id["e1-0"]["screen_gain"] == 0.0
    assert not by_id["e1-1"].get("screened") and by_id["e1-1"]["train_score"] == 1.0
    # parent's minibatch came from the cache; the loser cost 2, the winner 2 + 2
    assert out.counts["examples_scored"] == 6 and budget.spent == 10
    # each row records the run's spend once it was scored (4 before this batch): 4 + 2, 4 + 6
    assert parent["spent"] == 4 and by_id["e1-0"]["spent"] == 6 and by_id["e1-1"]["spent"] == 10
    action = {"section": "task", "operator": "refine", "candidate_id": "e1-0",
              "parent_score": 0.5}
    assert credit(action, by_id, 0.1, 0.0)["gain"] == 0.0  # judged beside its parent


def _result(score, soft):
    return EvalResult("f", "accuracy", score, {"soft_score": soft})


def test_the_bar_is_the_parent_level_when_the_minibatch_flatters_the_parent():
    # Parent: 8/8 on the minibatch (soft 0.60) but 25/32 on the whole reward set (soft
    # 0.55). Child: 6/8 (soft 0.63). With w = 0.5 the minibatch bar is 1 + 0.30 = 1.30,
    # the parent's level 0.78125 + 0.275 = 1.05625; the child's 0.75 + 0.315 = 1.065.
    child, parent = _result(0.75, 0.63), _result(1.0, 0.60)
    level = 0.78125 + 0.5 * 0.55
    beside_parent = Screening(child, parent, 0.5, Prompt.from_text("x"))
    assert beside_parent.gain == pytest.approx(1.065 - 1.30) and not beside_parent.passed
    at_level = Screening(child, parent, 0.5, Prompt.from_text("x"), level)
    assert at_level.gain == pytest.approx(1.065 - 1.05625) and at_level.passed
    # A parent whose minibatch is its weak part keeps the minibatch bar (the lower one).
    weak = Screening(child, _result(0.5, 0.5), 0.5, Prompt.from_text("x"), level)
    assert weak.gain == pytest.approx(1.065 - 0.75)
