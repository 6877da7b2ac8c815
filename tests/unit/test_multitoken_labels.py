"""Multi-token label words on a tiny random-weight causal LM (built offline in tmp_path)."""

import json
import logging

import pytest
import torch

from flowpo.errors import ModelError
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.local import LocalLM
from flowpo.prompt import Prompt
from flowpo.tasks import task_from_file

WORDS = "<pad> <unk> the film was very good bad okay great awful positive negative neutral".split()
LABELS = ["very positive", "positive", "neutral", "negative", "very negative"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-lm")
    raw = Tokenizer(WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    raw.pre_tokenizer = Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return LocalLM(str(folder), device="cpu", dtype="float32", batch_size=3)


def sequence_logprob(lm, text, word):
    """The label's log-probability from one plain forward pass over the whole input."""
    ctx, ids = lm.encode(text), lm.encode(" " + word)
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ctx + ids])).logits[0]
    logp = torch.log_softmax(logits.float(), -1)
    return sum(float(logp[len(ctx) - 1 + m, t]) for m, t in enumerate(ids))


def test_multi_token_words_score_as_the_sum_of_their_tokens(tiny):
    prefix, texts = "the film was", [" very good", " bad", " okay okay great"]
    got = torch.tensor(tiny.score_sequences(prefix, texts, [tiny.encode(" " + w) for w in LABELS]))
    want = torch.tensor([[sequence_logprob(tiny, prefix + t, w) for w in LABELS] for t in texts])
    assert got.shape == (3, 5)
    assert torch.allclose(got, want, atol=1e-4)  # prefix cache + continuation = full forward
    plain = torch.tensor(
        tiny.score_sequences(prefix, texts, [tiny.encode(" " + w) for w in LABELS], use_cache=False)
    )
    assert torch.allclose(plain, want, atol=1e-4)


def test_check_words_accepts_sequences_and_refuses_empty_or_equal_words(tiny):
    tiny.check_words(LABELS)  # no "use a one-token word instead"
    with pytest.raises(ModelError, match="share one token sequence"):
        tiny.check_words(["very good", "very good"])
    with pytest.raises(ModelError, match="empty"):
        tiny.check_words(["good", " "])


def test_evaluator_runs_a_five_class_file_with_multi_token_labels(tiny, tmp_path):
    rows = [
        {"input": f"the film was {w}", "target": lab}
        for w, lab in [
            ("great", LABELS[0]),
            ("good", LABELS[1]),
            ("okay", LABELS[2]),
            ("bad", LABELS[3]),
            ("awful", LABELS[4]),
        ]
        for _ in range(4)
    ]
    path = tmp_path / "five.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = task_from_file(path, labels=LABELS)
    ev = Evaluator(task, tiny, cache=EvalCache(tmp_path / "c.sqlite"))
    examples = [e for split in task.splits.values() for e in split]
    result = ev.evaluate(Prompt.from_text("the film was"), examples)
    assert len(result.examples) == len(examples)
    assert {r.prediction for r in result.examples} <= set(LABELS)
    assert all(len(r.label_logprobs) == 5 for r in result.examples)
    again = ev.evaluate(Prompt.from_text("the film was"), examples)
    assert again.cached == len(examples) and again.score == result.score


def test_a_remote_target_warns_once_about_several_word_labels():
    from flowpo.models.remote import RemoteLM

    lm = RemoteLM("m", base_url="http://127.0.0.1:1/v1")  # the check needs no connection
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("flowpo.models.remote")  # its own handler: no propagation
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        lm.check_words(["very positive", "negative"])
        lm.check_words(["very positive", "negative"])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    warned = [r for r in records if "several words" in r.getMessage()]
    assert len(warned) == 1 and "first token" in warned[0].getMessage()
