"""Minibatch screening: an edit is scored on the rest of train only if it beats its parent."""

import asyncio

from graph_fakes import ReminderLM, write_examples

from flowpo.evaluation import EvalCache, Evaluator, ExampleBudget
from flowpo.prompt import Prompt
from flowpo.search.credit import credit
from flowpo.search.scoring import Scorer, score_candidates, screen_batch
from flowpo.tasks import task_from_file


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
    action = {"section": "task", "operator": "refine", "candidate_id": "e1-0",
              "parent_score": 0.5}
    assert credit(action, by_id, 0.1, 0.0)["gain"] == 0.0  # judged beside its parent
