"""Baseline optimizers (APE, OPRO, ProTeGi, manual, few-shot) with scripted models."""

import pytest
from fakes import Recorder

from flowpo.baselines import BASELINES, BudgetSpent, Search
from flowpo.baselines.common import instruction_text, tagged, usable
from flowpo.baselines.opro import meta_prompt
from flowpo.baselines.protegi import reasons
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.base import TargetLM
from flowpo.prompt import Prompt
from flowpo.tasks.task import Task
from flowpo.types import Example


class KeywordLM(TargetLM):
    """Reads the review only when the prompt mentions 'good'; otherwise always says 'no'."""

    model_id = "fake:keyword"

    def check_words(self, words):
        pass

    async def score_labels(self, prefix, texts, words):
        self.stats.examples += len(texts)
        out = []
        for t in texts:
            pos = "good" in prefix and "good" in t
            out.append([-2.0, -0.1] if pos else [-0.1, -2.0])
        return out

    async def generate(self, prefix, texts, *, max_new_tokens=32):
        raise NotImplementedError


def make_task(n_train=16, n_dev=8):
    def exs(split, n):
        return [
            Example(f"{split}-{i}", ("good " if i % 2 else "dull ") + f"film {i}",
                    "positive" if i % 2 else "negative")
            for i in range(n)
        ]

    return Task(
        "toy",
        "classification",
        "accuracy",
        ("negative", "positive"),
        {"negative": "no", "positive": "yes"},
        splits={"train": exs("train", n_train), "dev": exs("dev", n_dev), "test": exs("test", 4)},
    )


def make_search(budget, script=None, seed=0):
    task = make_task()
    ev = Evaluator(task, KeywordLM(), cache=EvalCache())
    llm = Recorder(script=script) if script is not None else None
    return Search(ev, llm, budget_examples=budget, seed=seed)


async def test_search_counts_new_examples_once_and_refuses_past_budget():
    s = make_search(40)
    p = Prompt.from_text("Say if it is good.")
    t = await s.score(p, s.train[:8])
    assert (s.train_scored, t.n) == (8, 8)
    await s.score(p, s.train[:8])  # nothing new: free
    assert s.train_scored == 8
    t = await s.score(p)  # 8 more... no: 16 - 8 = 8 new
    assert (s.train_scored, t.n, t.metric) == (16, 16, 1.0)
    await s.score(Prompt.from_text("Judge."))  # 16 more
    assert s.remaining == 8
    with pytest.raises(BudgetSpent):
        await s.score(Prompt.from_text("Another."))
    assert s.train_scored == 32 and s.evaluator.budget.examples_scored == 32


async def test_finish_picks_on_dev_among_the_best_train_trials():
    s = make_search(100)
    await s.score(Prompt.from_text("Judge."))
    await s.score(Prompt.from_text("Is it good?"))
    res = await s.finish("x", finalists=2)
    assert res.prompt.text == "Is it good?" and res.dev == 1.0
    assert res.budget["dev_examples_scored"] == 16  # two finalists x 8 dev examples
    assert [f["dev"] for f in res.finalists] == [1.0, 0.5]


def test_instruction_extraction_from_tags_and_free_text():
    assert tagged("x <START>a<END> y <START> b <END>") == ["a", "b"]
    assert instruction_text("<INS>Classify it.</INS>") == "Classify it."
    assert instruction_text("The instruction was: Rate the review.\n\nMore text") == (
        "Rate the review."
    )
    assert not usable('<data name="instructions">') and not usable("use {text}")
    assert usable("Classify the review.")
    assert reasons("1. The prompt is too vague about tone.\n2. It ignores irony.", 2) == [
        "1. The prompt is too vague about tone.",
        "2. It ignores irony.",
    ]


async def test_manual_and_fewshot_spend_nothing_and_fewshot_renders_demos():
    s = make_search(0, seed=3)
    res = await BASELINES["fewshot"](s)
    demos = res.prompt.section("examples").text.splitlines()
    assert len(demos) == 4 and all(d.startswith("Input : ") for d in demos)
    assert all(d.endswith((" Output: yes", " Output: no")) for d in demos)
    assert res.budget["train_examples_scored"] == 0
    assert (await BASELINES["manual"](make_search(0))).budget["train_examples_scored"] == 0


async def test_ape_induces_from_demos_filters_and_stays_in_budget():
    answers = iter(["Decide whether the film is good.", "Write a poem.", "<INS>Reply no.</INS>",
                    "Say yes if it is good."] * 20)
    s = make_search(100, script=lambda msgs: next(answers))
    res = await BASELINES["ape"](s)
    first = s.llm.seen[0][1].content
    assert "input-output pairs" in first and "Output: " in first
    assert s.train_scored <= 100
    assert "good" in res.prompt.text and res.dev == 1.0
    assert res.budget["llm_calls"] >= 1 and res.budget["llm_requests"] >= 4


async def test_opro_meta_prompt_holds_scored_history_ascending_and_iterates():
    texts = iter(["<INS>Tell me.</INS>", "Say no.", "Answer.", "Judge it.",
                  "<INS>Is the film good?</INS>"] + [f"Variant {i}." for i in range(99)])
    s = make_search(16 * 7, script=lambda msgs: next(texts))
    res = await BASELINES["opro"](s)
    assert s.train_scored == 112  # manual + 4 + 2: stops when a train split no longer fits
    meta = s.llm.seen[-1][1].content
    scores = [int(x) for x in meta.split("score:\n")[1:] for x in [x.split("\n")[0]]]
    assert scores == sorted(scores) and len(scores) >= 2
    assert "<INS>" in meta and "Below are some problems" in meta
    assert "good" in res.prompt.text
    t = s.ranked()[0]
    assert meta_prompt(s, [t]).count("score:") == 1


async def test_protegi_gradient_edit_paraphrase_and_bandit_within_budget():
    def script(msgs):
        user = msgs[-1].content
        if "Give 2 reasons" in user:
            assert "Prediction: negative (the word 'no')" in user
            return "<START>It never looks for good words<END><START>Too short<END>"
        if "write an improved prompt" in user:
            return "<START>Answer yes when the film is good.<END>"
        return "Say yes if the review calls the film good."

    s = make_search(120, script=script)
    res = await BASELINES["protegi"](s)
    assert s.train_scored <= 120
    assert "good" in res.prompt.text and res.dev == 1.0
    origins = {t["origin"] for t in res.trials}
    assert {"manual", "edit"} <= origins
