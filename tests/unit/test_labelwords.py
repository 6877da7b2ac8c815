import asyncio
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from flowpo.prompt import Prompt
from flowpo.search.labelwords import (
    assignment_score,
    best_label_words,
    common_word_mask,
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


def test_labels_sharing_their_only_word_have_no_assignment():
    # "very positive" and "very negative" may both offer only " very"
    logp, gold = table()
    assert search(logp, gold, [[1], [1]]) == ((), float("-inf"))


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
        return torch.tensor(table()[0][: len(texts)])


def test_word_mask_keeps_spaced_words_and_is_cached_on_the_model():
    lm = FakeLM()
    assert word_mask(lm).tolist() == [True, True, True, True, False]
    lm.tokenizer = None  # a second call must not read the vocabulary again
    assert word_mask(lm).tolist() == [True, True, True, True, False]


def sentiment():
    """A two-label task (current words bad/the), its four train rows and a prompt."""
    task = SimpleNamespace(
        template="{prompt}\n{text}\nAnswer:",
        labels=["negative", "positive"],
        verbalizers={"negative": "bad", "positive": "the"},
        format_input=lambda e: e.text,
    )
    targets = ["negative", "negative", "positive", "positive"]
    train = [SimpleNamespace(text=f"t{i}", target=t) for i, t in enumerate(targets)]
    return task, train, Prompt.from_text("Classify.")


def test_best_label_words_picks_the_targets_own_words():
    task, train, prompt = sentiment()
    words = asyncio.run(best_label_words(FakeLM(), task, prompt, train, 0.5))
    # (sad, joy) is right on all four rows with the highest gold probability (see
    # test_exhaustive_search_finds_the_best_distinct_pair); "negative" is no one token.
    assert words == {"negative": "sad", "positive": "joy"}


def test_names_are_no_common_words_their_lowercase_form_is_no_token():
    class Names(Tokenizer):
        vocab = ["Ġbad", "ĠParis", "ĠBad", "ĠGDP", "ly", "Ġbill", "ĠBill", "ĠIn", "Ġin",
                 "ĠLos", "Ġlos"]

    lm = FakeLM()
    lm.tokenizer = Names()
    weight = SimpleNamespace(weight=np.zeros((11, 2)))
    lm.model = SimpleNamespace(get_output_embeddings=lambda: weight)
    # Paris and GDP have no lowercase token: names; Bad and Bill do: common words; In is
    # a function word; Los came before los in the merges (written capitalised more often):
    # a name, while los itself is a word
    kept = [True, False, True, False, False, True, True, False, False, False, True]
    assert common_word_mask(lm).tolist() == kept
    lm.tokenizer = None  # cached on the model
    assert common_word_mask(lm).tolist() == kept


def test_an_unrelated_current_word_is_weighed_with_its_partners_not_mixed_with_new_words():
    # columns the, bad, sad, joy, ly; gold 0, 0, 1, 1. With the current words
    # negative=bad, positive=the: (sad, the) is right on all four rows, (sad, joy) on
    # three (row 3: joy 0.1 < sad 0.2), (bad, the) on two (bad > the everywhere).
    logp = np.log(np.array([
        [0.10, 0.20, 0.40, 0.20, 0.10],
        [0.10, 0.20, 0.40, 0.20, 0.10],
        [0.40, 0.45, 0.10, 0.30, 0.10],
        [0.40, 0.45, 0.20, 0.10, 0.10],
    ]))

    class LM(FakeLM):
        def next_token_logprobs(self, prefix, texts):
            return torch.tensor(logp[: len(texts)])

    axes = {"negative": 0, "sad": 0, "positive": 1, "joy": 1}  # everything else: axis 2

    def embed(words):
        return np.eye(3)[[axes.get(w, 2) for w in words]]

    task, train, prompt = sentiment()
    words = asyncio.run(best_label_words(LM(), task, prompt, train, 0.0, embed=embed))
    assert words == {"negative": "sad", "positive": "joy"}  # not (sad, the): 'the' is no
    # word for positive; free words (no embedder) may mix them, as before
    assert asyncio.run(best_label_words(LM(), task, prompt, train, 0.0)) == {
        "negative": "sad", "positive": "the"}
    # when the current words together beat every related choice, they stay
    logp[:, 1] = np.log([0.5, 0.5, 0.01, 0.01])  # bad now says negative on rows 0-1 only
    assert asyncio.run(best_label_words(LM(), task, prompt, train, 0.0, embed=embed)) == {
        "negative": "bad", "positive": "the"}
