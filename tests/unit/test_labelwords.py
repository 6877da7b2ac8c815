import asyncio
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from flowpo.prompt import Prompt
from flowpo.search.labelwords import (
    LabelChoice,
    assignment_score,
    best_label_words,
    choose_words,
    content_free_bias,
    discriminative_tokens,
    search,
    word_mask,
)


def table():
    # 4 examples, vocabulary of 5 tokens; gold labels 0, 0, 1, 1.
    logp = np.log(
        np.array(
            [
                [0.50, 0.10, 0.20, 0.10, 0.10],
                [0.40, 0.20, 0.30, 0.05, 0.05],
                [0.45, 0.05, 0.10, 0.30, 0.10],
                [0.50, 0.05, 0.05, 0.30, 0.10],
            ]
        )
    )
    return logp, np.array([0, 0, 1, 1])


def test_assignment_score_by_hand():
    logp, gold = table()
    # words (2, 3): ex0 0.2>0.1 ok, ex1 0.3>0.05 ok, ex2 0.3>0.1 ok, ex3 0.3>0.05 ok
    assert assignment_score(logp, gold, (2, 3), 0.0) == 1.0
    # soft: p(gold) = 2/3, 6/7, 3/4, 6/7
    soft = (2 / 3 + 6 / 7 + 3 / 4 + 6 / 7) / 4
    assert assignment_score(logp, gold, (2, 3), 1.0) == pytest.approx(1 + soft)
    # words (0, 4): token 0 always wins -> everything predicted label 0
    assert assignment_score(logp, gold, (0, 4), 0.0) == 0.5


def test_exhaustive_search_finds_the_best_distinct_pair():
    logp, gold = table()
    ids, score = search(logp, gold, [[0, 1, 2], [0, 3, 4]], soft_weight=0.5)
    assert ids == (2, 3) and score > 1.0
    ids, _ = search(logp, gold, [[0], [0, 4]], soft_weight=0.0)
    assert ids == (0, 4)  # (0, 0) is not allowed: two labels, one token


def test_coordinate_ascent_when_the_product_is_large(monkeypatch):
    import flowpo.search.labelwords as lw

    monkeypatch.setattr(lw, "MAX_COMBINATIONS", 1)
    logp, gold = table()
    ids, _ = search(logp, gold, [[0, 1, 2], [4, 3, 0]])
    assert ids == (2, 3)


def test_discriminative_tokens_prefer_label_specific_words():
    logp, gold = table()
    allowed = np.array([True, True, True, True, False])
    words = discriminative_tokens(logp, gold, 2, allowed, k=1)
    assert words == [[2], [3]]


class Tokenizer:
    """A five-token vocabulary: four words after a space, one word fragment."""

    vocab = ["Ġthe", "Ġbad", "Ġsad", "Ġjoy", "ly"]

    def __len__(self):
        return len(self.vocab)

    def convert_ids_to_tokens(self, ids):
        return [self.vocab[i] for i in ids]

    def decode(self, ids):
        return self.vocab[ids[0]].replace("Ġ", " ")


class FakeLM:
    """A local target whose next-token log-probs are those of ``table()``."""

    def __init__(self):
        self.tokenizer = Tokenizer()
        self.model = SimpleNamespace(
            get_output_embeddings=lambda: SimpleNamespace(weight=np.zeros((5, 2)))
        )

    def encode(self, text):
        token = text.replace(" ", "Ġ", 1)
        return [self.tokenizer.vocab.index(token)] if token in self.tokenizer.vocab else [0, 4]

    def next_token_logprobs(self, prefix, texts):
        rows = table()[0]
        return torch.tensor(np.vstack([rows] * 8)[: len(texts)])  # the table repeated


def test_word_mask_keeps_spaced_words_and_is_cached_on_the_model():
    lm = FakeLM()
    assert word_mask(lm).tolist() == [True, True, True, True, False]
    lm.tokenizer = None  # a second call must not read the vocabulary again
    assert word_mask(lm).tolist() == [True, True, True, True, False]


def test_best_label_words_picks_the_targets_own_words():
    task = SimpleNamespace(
        template="{prompt}\n{text}\nAnswer:",
        labels=["negative", "positive"],
        verbalizers={"negative": "bad", "positive": "the"},
        format_input=lambda e: e.text,
    )
    targets = ["negative", "negative", "positive", "positive"] * 8
    train = [SimpleNamespace(text=f"t{i}", target=t) for i, t in enumerate(targets)]
    prompt = Prompt.from_text("Classify.")
    choice = asyncio.run(best_label_words(FakeLM(), task, prompt, train, 0.5))
    # (sad, joy) is right on all 32 rows with the highest gold probability (see
    # test_exhaustive_search_finds_the_best_distinct_pair); "negative" is no one token, so
    # the current words (bad, the) stand for the names: 24 of 32 right, calibrated. At most
    # four words per label: K <= 4 x 4 x 2 = 32, sqrt(2 ln 32) = 2.63, and
    # 1.0 > 0.75 + 2.63 * sqrt(0.1875 / 32) = 0.951, so (sad, joy) replace them.
    # Calibrated, the same words score 1.3869 < 1.3914 raw: calibration stays off.
    assert choice == LabelChoice({"negative": "sad", "positive": "joy"}, calibrate=False)
    chosen = choice.applied(prompt, task)
    assert chosen is not None and chosen.verbalizers == choice.words
    assert choice.applied(chosen, task) is None  # nothing left to change


def test_calibrated_score_by_hand():
    logp, gold = table()
    free = logp[:3]  # three content-free rows
    # label words (0, 4): p(0) / (p(0) + p(4)) on the free rows = 5/6, 8/9, 9/11
    p0 = (5 / 6 + 8 / 9 + 9 / 11) / 3
    assert np.exp(content_free_bias(free, (0, 4))) == pytest.approx([p0, 1 - p0])
    # raw, token 0 always wins (0.5); calibrated: ex0 0.5/0.8468 < 0.1/0.1532 is wrong,
    # ex1 0.4/0.8468 > 0.05/0.1532 right, ex2 and ex3 0.1/0.1532 wins, right: 3 of 4
    assert assignment_score(logp, gold, (0, 4), 0.0) == 0.5
    assert assignment_score(logp, gold, (0, 4), 0.0, free) == 0.75
    assert search(logp, gold, [[0], [4]], 0.0, free) == ((0, 4), 0.75)


def test_the_labels_names_stay_unless_other_words_beat_them_by_more_than_the_noise():
    logp, gold = table()
    free = logp[:3]
    # names (0, 4): raw 0.5, calibrated 0.75; the best words (2, 3) score 1.0. 2 x 2 word
    # choices x 2 calibrations: K = 8, sqrt(2 ln 8) = 2.04 standard errors. On 4 examples
    # that is 2.04 * sqrt(0.75 * 0.25 / 4) = 0.44 (the floor 1/n: 2.04 * sqrt(0.25 / 4) =
    # 0.51): 1.0 < 0.75 + 0.51, so the names stay, calibrated.
    assert choose_words(logp, gold, [[0, 2], [3, 4]], (0, 4), free, 0.0, False) == ((0, 4), True)
    # the same rows four times: 16 examples, 2.04 * sqrt(0.1875 / 16) = 0.221 and
    # 1.0 > 0.75 + 0.221: (2, 3) win
    logp16, gold16 = np.vstack([logp] * 4), np.concatenate([gold] * 4)
    assert choose_words(logp16, gold16, [[0, 2], [3, 4]], (0, 4), free, 0.0, False) == (
        (2, 3), False)
    # 8 examples: 2.04 * sqrt(0.1875 / 8) = 0.312 and 1.0 < 1.062: the names stay
    logp8, gold8 = np.vstack([logp] * 2), np.concatenate([gold] * 2)
    assert choose_words(logp8, gold8, [[0, 2], [3, 4]], (0, 4), free, 0.0, False) == (
        (0, 4), True)
