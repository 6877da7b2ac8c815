"""A start that answers one label whatever the input has every library frame tried."""

import asyncio

from flowpo.config import OptimizeConfig, data_task
from flowpo.evaluation import EvalCache, Evaluator, ExampleBudget
from flowpo.memory.embeddings import load_embedder
from flowpo.operators.framing import FRAMES
from flowpo.prompt import Prompt
from flowpo.search.drafting import sections_from_manual
from flowpo.search.policy import one_class
from flowpo.search.reward import reward_task
from flowpo.search.scorer import Scorer
from flowpo.search.scoring import score_candidates


def test_a_collapsed_start_sweeps_the_frames_and_keeps_the_best_two_scored_in_full(embedded):
    # the medium bench's SST-2 seed 42: 32 reward examples, the manual prompt in sections
    config = OptimizeConfig(task="sst2", seed=42, data_seed=42, budget_examples=256)
    task = reward_task(data_task(config), 32)
    train = task.split("train")
    ev = Evaluator(task, embedded, cache=EvalCache())
    embed = load_embedder().embed  # related label words, as in a run (MiniLM)
    scorer = Scorer(task, embedded, ev, config.model, soft_weight=0.5, embed=embed,
                    screen_size=8, refit_start=True)
    start = sections_from_manual(task, None)
    budget = ExampleBudget(256)
    out = asyncio.run(score_candidates(
        scorer, [{"id": "c0", "prompt": start.to_dict(), "action": None}], budget, first=True))
    by_id = {c["id"]: c for c in out.candidates}
    swept = [c for c in out.candidates if tuple(c.get("action") or ()) == ("frame", "frame")]
    # the frames alone are swept as soon as the user's start is scored, before its own
    # words and the retrieving start; under the instruction after them, from the start
    # with its own words if they clearly won
    best = swept[1]["parent_id"]
    assert best in ("c0", "c0w") and "c0w" in by_id
    assert [c["id"] for c in out.candidates][:2] == ["c0", "c0f0"]
    assert one_class(by_id["c0"]["per_label"])  # it answers one label: the sweep's trigger
    assert [c["id"] for c in swept] == ["c0f0", f"{best}f1"]
    prompts = [Prompt.from_dict(c["prompt"]) for c in swept]
    assert all(p.template in FRAMES for p in prompts)
    assert [bool(p.text) for p in prompts] == [False, True]  # the best alone, and
    assert prompts[1].template != task.template  # the best framed
    assert all(tuple(c["action"]) == ("frame", "frame") for c in swept)
    # two starts; seven frames alone and six framed on the 8-example minibatch; two in
    # full (the minibatch cached), each maybe once more with the words that suit it there
    n = len(train)
    assert budget.spent == out.counts["examples_scored"] <= 2 * n + 13 * 8 + 2 * (n - 8 + n)
    # the frame is the lever: one of them lifts the start off its one label
    assert max(c["train_score"] for c in swept) > by_id[best]["train_score"] + 0.1
