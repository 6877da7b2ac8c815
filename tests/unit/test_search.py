import random
from types import SimpleNamespace

import pytest

from flowpo.graphs.state import add_counts, add_nested_counts
from flowpo.search.beam import select_beam
from flowpo.search.credit import action_gain, usage_delta, usage_table
from flowpo.search.objective import objective, rank
from flowpo.search.stopping import stop_reason


def cand(cid, score, soft=0.0):
    return {"id": cid, "train_score": score, "train_soft": soft}


def test_rank_breaks_accuracy_ties_with_the_soft_score():
    cs = [cand("a", 0.5, 0.40), cand("b", 0.5, 0.60), cand("c", 0.6, 0.45)]
    assert [c["id"] for c in rank(cs, soft_weight=0.5)] == ["c", "b", "a"]
    assert [c["id"] for c in rank(cs, soft_weight=0.0)] == ["c", "a", "b"]  # stable
    assert objective(cs[1], 0.5) == pytest.approx(0.8)


def test_beam_keeps_top_k_plus_annealing_picks_without_duplicates():
    cs = [cand(str(i), i / 10) for i in range(10)] + [cand("9", 0.9)]
    beam = select_beam(cs, k=3, annealing=2, epoch=0, rng=random.Random(0))
    ids = [c["id"] for c in beam]
    assert ids[:3] == ["9", "8", "7"] and len(ids) == 5 and len(set(ids)) == 5


def test_annealing_prefers_close_scores_and_cools_down():
    cs = [cand("top", 0.9), cand("near", 0.88), cand("far", 0.3)]
    picks = [select_beam(cs, 1, 1, epoch=0, rng=random.Random(s))[1]["id"] for s in range(200)]
    assert picks.count("near") > 190  # exp(-0.6/0.05) makes 'far' nearly impossible
    assert select_beam(cs, 3, 2, epoch=0, rng=random.Random(0)) == cs


def test_failed_action_is_charged_relative_to_parent():
    assert action_gain({"parent_score": 0.5}, 0.6, 0.1) == pytest.approx(0.1)
    assert action_gain({"parent_score": 0.5, "failed": True}, None, 0.1) == pytest.approx(-0.05)


def config(**kw):
    base = dict(
        max_epochs=10,
        patience=3,
        tol=0.0,
        budget_examples=None,
        budget_llm_calls=None,
        budget_seconds=None,
    )
    return SimpleNamespace(**{**base, **kw})


def test_stop_reasons():
    assert stop_reason(epoch=10, stale=0, budget={}, config=config()).startswith("max_epochs")
    assert stop_reason(epoch=2, stale=3, budget={}, config=config()).startswith("converged")
    assert "example budget" in stop_reason(
        epoch=1, stale=0, budget={"examples_scored": 100}, config=config(budget_examples=100)
    )
    assert "wall-time" in stop_reason(
        epoch=1, stale=0, budget={"seconds": 5}, config=config(budget_seconds=4.5)
    )
    assert (
        stop_reason(
            epoch=1, stale=2, budget={"examples_scored": 99}, config=config(budget_examples=100)
        )
        is None
    )


def test_usage_counts_and_table():
    acts = [
        {"operator": "few_shot", "gain": 0.1},
        {"operator": "few_shot", "gain": -0.05},
        {"operator": "refine", "failed": True, "gain": -0.02},
    ]
    u = usage_delta(acts)
    assert u["few_shot"] == {"chosen": 2, "failed": 0, "improved": 1, "gain": pytest.approx(0.05)}
    assert u["refine"]["failed"] == 1
    merged = add_nested_counts(u, usage_delta(acts[:1]))
    assert merged["few_shot"]["chosen"] == 3 and merged["refine"]["chosen"] == 1
    table = usage_table(merged)
    assert table.splitlines()[1].split()[:4] == ["few_shot", "3", "0", "2"]


def test_budget_reducer_adds():
    assert add_counts({"a": 1, "b": 2.5}, {"b": 1, "c": 3}) == {"a": 1, "b": 3.5, "c": 3}
    assert add_counts(None, None) == {}


def test_advance_counts_epochs_without_progress_beyond_tol():
    from flowpo.search.beam import advance

    cfg = SimpleNamespace(soft_weight=0.0, beam_size=2, annealing=0, tol=0.05)
    best = cand("a", 0.50)
    beam, new_best, stale = advance([best], best, [cand("b", 0.52)], 1, 3, cfg, random.Random(0))
    assert new_best["id"] == "b" and stale == 2  # +0.02 is not more than tol
    assert [c["id"] for c in beam] == ["b", "a"]
    _, new_best, stale = advance(beam, new_best, [cand("c", 0.60)], stale, 4, cfg, random.Random(0))
    assert new_best["id"] == "c" and stale == 0
