"""Evaluator logic with a scripted target model (the real one is in tests/integration)."""

import math

import pytest

from flowpo.errors import ConfigError
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.base import TargetLM
from flowpo.prompt import Prompt
from flowpo.tasks.task import Task
from flowpo.types import Example


class ScriptedLM(TargetLM):
    """Says 'positive' when the text contains 'good' (or when the prompt says 'always')."""

    model_id = "fake:scripted"

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, list[str], list[str]]] = []

    def check_words(self, words):
        if "bad word" in words:
            raise ValueError("bad word")

    async def score_labels(self, prefix, texts, words):
        self.seen.append((prefix, texts, words))
        self.stats.calls += 1
        self.stats.examples += len(texts)
        self.stats.tokens_in += sum(len(t.split()) for t in texts)
        pos = [("good" in t) or ("always" in prefix) for t in texts]
        return [[-2.0, -0.1] if p else [-0.1, -2.0] for p in pos]

    async def generate(self, prefix, texts, *, max_new_tokens=32):
        self.stats.calls += 1
        self.stats.examples += len(texts)
        return [t.split(":")[1].replace("Output", "").strip().upper() + "\nmore" for t in texts]


def sentiment_task():
    exs = [
        Example(f"t{i}", text, label)
        for i, (text, label) in enumerate(
            [
                ("good film", "positive"),
                ("bad film", "negative"),
                ("good cast", "positive"),
                ("dull", "negative"),
                ("boring", "positive"),
            ]
        )
    ]
    return Task(
        "toy",
        "classification",
        "accuracy",
        ("negative", "positive"),
        {"negative": "no", "positive": "yes"},
        splits={"test": exs},
    )


def test_verbalizer_mode_scores_and_reports_per_label():
    task, lm = sentiment_task(), ScriptedLM()
    ev = Evaluator(task, lm, chunk_size=2)
    res = ev.evaluate(Prompt.from_text("Judge."), task.split("test"))
    assert [r.prediction for r in res.examples] == [
        "positive",
        "negative",
        "positive",
        "negative",
        "negative",
    ]
    assert res.score == pytest.approx(4 / 5) and res.loss == pytest.approx(1 / 5)
    # positive: tp=2, fp=0, fn=1 -> P=1, R=2/3, F1=0.8
    assert res.details["per_label"]["positive"]["f1"] == pytest.approx(0.8)
    assert lm.seen[0][0] == "Judge. Input :" and lm.seen[0][1][0] == " good film Output:"
    assert lm.seen[0][2] == ["no", "yes"]
    assert res.model_calls == 5 and res.cached == 0
    assert len(lm.seen) == 3  # chunks of 2


def test_second_evaluation_is_served_from_cache_with_zero_model_calls(tmp_path):
    task, lm = sentiment_task(), ScriptedLM()
    cache = EvalCache(tmp_path / "c.sqlite")
    first = Evaluator(task, lm, cache=cache).evaluate(
        Prompt.from_text("Judge."), task.split("test")
    )
    calls = lm.stats.calls
    # A new evaluator and a reopened file: a resumed run.
    ev2 = Evaluator(task, lm, cache=EvalCache(tmp_path / "c.sqlite"))
    again = ev2.evaluate(Prompt.from_text("Judge."), task.split("test"))
    assert lm.stats.calls == calls
    assert again.model_calls == 0 and again.cached == 5
    assert again.score == first.score
    assert [r.prediction for r in again.examples] == [r.prediction for r in first.examples]
    assert ev2.budget.examples_scored == 0 and ev2.budget.examples_cached == 5


def test_cache_is_keyed_by_prompt_and_verbalizers_and_partial_hits_are_reused():
    task, lm = sentiment_task(), ScriptedLM()
    ev = Evaluator(task, lm)
    ev.evaluate(Prompt.from_text("Judge."), task.split("test")[:3])
    res = ev.evaluate(Prompt.from_text("Judge."), task.split("test"))
    assert (res.cached, res.model_calls) == (3, 2)
    res = ev.evaluate(
        Prompt.from_text("Judge.", verbalizers={"positive": "good"}), task.split("test")
    )
    assert res.cached == 0 and lm.seen[-1][2] == ["no", "good"]
    res = ev.evaluate(Prompt.from_text("always"), task.split("test"))
    assert res.cached == 0 and res.score == pytest.approx(3 / 5)
    assert ev.budget.examples_scored == 3 + 2 + 5 + 5


def test_generation_mode_takes_first_line_and_scores_with_the_metric():
    exs = [
        Example("a", "word: cat", "CAT", targets=("CAT", "KITTY")),
        Example("b", "word: dog", "x"),
    ]
    task = Task("gen", "generation", "exact_match", splits={"test": exs})
    ev = Evaluator(task, ScriptedLM())
    assert ev.mode == "generate"
    res = ev.evaluate(Prompt.from_text("Upper-case it."), exs)
    assert [r.prediction for r in res.examples] == ["CAT", "DOG"]
    assert res.score == pytest.approx(0.5)


def test_verbalizer_mode_on_generation_task_is_a_config_error():
    task = Task("gen", "generation", "exact_match", splits={"test": []})
    with pytest.raises(ConfigError, match="generate"):
        Evaluator(task, ScriptedLM(), mode="verbalizer")


def test_model_word_check_runs_before_any_scoring():
    task, lm = sentiment_task(), ScriptedLM()
    with pytest.raises(ValueError, match="bad word"):
        Evaluator(task, lm).evaluate(
            Prompt.from_text("x", verbalizers={"positive": "bad word"}), task.split("test")
        )
    assert lm.stats.calls == 0


def test_unreadable_cache_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(Exception, match="SQLite"):
        EvalCache(bad)


def test_soft_score_is_the_mean_gold_probability():
    from flowpo.evaluation.evaluator import soft_score

    # p(gold) = 0.8 for the first row, 0.5 for the second (equal log-probs)
    rows = [[math.log(0.2), math.log(0.8)], [-1.0, -1.0]]
    assert soft_score(rows, ["b", "a"], ["a", "b"]) == pytest.approx((0.8 + 0.5) / 2)


def test_verbalizer_results_carry_a_soft_score():
    task, lm = sentiment_task(), ScriptedLM()
    res = Evaluator(task, lm).evaluate(Prompt.from_text("Judge."), task.split("test"))
    p_hi = math.exp(-0.1) / (math.exp(-0.1) + math.exp(-2.0))
    # 4 right with p_hi, 1 wrong ('boring' labelled positive) with 1 - p_hi
    assert res.details["soft_score"] == pytest.approx((4 * p_hi + (1 - p_hi)) / 5)


def test_calibration_subtracts_content_free_bias_and_costs_three_examples():
    from flowpo.evaluation.evaluator import CONTENT_FREE

    task, lm = sentiment_task(), ScriptedLM()
    # ScriptedLM on content-free inputs (no 'good'): p(no)=high -> the bias favours 'no'.
    plain = Evaluator(task, lm).evaluate(Prompt.from_text("Judge."), task.split("test"))
    n0 = lm.stats.examples
    cal = Evaluator(task, lm).evaluate(
        Prompt.from_text("Judge.", calibrate=True), task.split("test")
    )
    assert lm.stats.examples - n0 == 5 + len(CONTENT_FREE)
    assert cal.prompt_fingerprint != plain.prompt_fingerprint
    # After removing the 'no' bias every example's two scores are symmetric around it:
    # texts with 'good' stay positive, the others tie and argmax keeps 'negative'.
    assert [r.prediction for r in cal.examples] == [r.prediction for r in plain.examples]
    lp = cal.examples[0].label_logprobs
    assert lp[1] - lp[0] == pytest.approx(2 * (2.0 - 0.1))
