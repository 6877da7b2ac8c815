"""The real embedded model: prefix cache, result cache, verbalizer checks, generation."""

import asyncio
import json

import numpy as np
import pytest

from flowpo.cli import main
from flowpo.errors import ModelError
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.chat import LocalChatModel
from flowpo.prompt import Prompt
from flowpo.tasks import load_task

pytestmark = pytest.mark.slow


def test_prefix_cache_gives_the_same_predictions_as_full_forward(embedded):
    task = load_task("sst2")
    examples = task.split("test")[:12]
    prompt = Prompt.from_text("Decide if the movie review below is positive or negative. " * 4)
    prefix, pattern = prompt.split_render(task.template)
    texts = [pattern.replace("{text}", task.format_input(e)) for e in examples]
    words = [embedded.word_token(task.verbalizers[lab]) for lab in task.labels]
    cached = np.array(embedded.score_sync(prefix, texts, words, use_cache=True))
    full = np.array(embedded.score_sync(prefix, texts, words, use_cache=False))
    assert cached.shape == (12, 2)
    assert (cached.argmax(1) == full.argmax(1)).all()
    assert np.abs(cached - full).max() < 1e-3
    assert (cached < 0).all()  # log-probabilities


def test_second_evaluation_costs_zero_model_calls(embedded, tmp_path):
    task = load_task("sst2")
    examples = task.split("test")[:10]
    cache = EvalCache(tmp_path / "cache.sqlite")
    first = Evaluator(task, embedded, cache=cache).evaluate(
        Prompt.from_text("Sentiment?"), examples
    )
    assert first.model_calls == 10
    calls, tokens = embedded.stats.calls, embedded.stats.tokens_in
    second = Evaluator(task, embedded, cache=cache).evaluate(
        Prompt.from_text("Sentiment?"), examples
    )
    assert (embedded.stats.calls, embedded.stats.tokens_in) == (calls, tokens)
    assert second.model_calls == 0 and second.cached == 10
    assert [r.prediction for r in second.examples] == [r.prediction for r in first.examples]
    assert [r.label_logprobs for r in second.examples] == [r.label_logprobs for r in first.examples]


def test_multi_token_verbalizers_are_scored_as_sequences(embedded):
    embedded.check_words(["(a)", "no"])  # several tokens: accepted, scored as a sequence
    with pytest.raises(ModelError, match="share one token"):
        embedded.check_words(["yes", "yes"])
    with pytest.raises(ModelError) as e:
        embedded.word_token("(a)")  # the one-token helper still says what to use instead
    assert "'(a)'" in str(e.value) and "candidates" in str(e.value)
    prefix, texts = "Is this review positive?", [" Input : a great film Output:"]
    words = ["very positive", "very negative", "yes"]
    got = asyncio.run(embedded.score_labels(prefix, texts, words))[0]
    seqs = [embedded.encode(" " + w) for w in words]
    full = embedded.score_sequences(prefix, texts, seqs, use_cache=False)[0]
    assert np.allclose(got, full, atol=1e-3) and got[0] != got[1]
    assert got[2] == pytest.approx(embedded.score_sync(prefix, texts, seqs[2])[0][0], abs=1e-4)


def test_generation_mode_and_chat_model_produce_text(embedded):
    task = load_task("singular_to_plural")
    ev = Evaluator(task, embedded, max_new_tokens=6)
    res = ev.evaluate(
        Prompt.from_text("Write the plural form of the word."), task.split("test")[:4]
    )
    assert len(res.examples) == 4 and all(isinstance(r.prediction, str) for r in res.examples)
    assert 0.0 <= res.score <= 1.0 and embedded.stats.tokens_out > 0
    reply = LocalChatModel(lm=embedded, max_new_tokens=12).invoke("Say hello.")
    assert isinstance(reply.content, str) and reply.content.strip()


def test_cli_eval_writes_json_and_reuses_the_cache(embedded, tmp_path, capsys):
    out, cache = tmp_path / "r.json", tmp_path / "c.sqlite"
    args = [
        "eval",
        "--task",
        "sst2",
        "--split",
        "test",
        "--limit",
        "6",
        "--dtype",
        "float32",
        "--cache",
        str(cache),
        "--output",
        str(out),
        "--quiet",
    ]
    main(args)
    data = json.loads(out.read_text())
    assert data["summary"]["examples"] == 6 and len(data["examples"]) == 6
    assert data["summary"]["verbalizers"] == {"negative": "no", "positive": "yes"}
    assert 0 <= data["score"] <= 1 and data["model_calls"] == 6
    main(args)
    assert "6 cached" in capsys.readouterr().out
    assert json.loads(out.read_text())["model_calls"] == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--task", "sst3"], "sst2"),
        (["--template", "{prompt} no slot"], "{text}"),
        (["--verbalizers", "no,yes,maybe"], "for 2 labels"),
        (["--model", "hf:gpt2"], "model"),
        (["--split", "validation"], "split"),
    ],
)
def test_cli_bad_input_exits_2_with_a_clear_message(args, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--limit", "2", "--dtype", "float32", "--quiet", *args])
    assert e.value.code == 2
    assert needle in capsys.readouterr().err
