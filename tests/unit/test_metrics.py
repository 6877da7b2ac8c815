"""Hand-checked values for flowpo.metrics."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from flowpo.errors import ConfigError
from flowpo.metrics import (
    METRICS,
    check_metric,
    check_metric_callable,
    classification_report,
    corpus_score,
    entity_f1,
    normalize_answer,
    parse_entities,
    score_example,
)
from flowpo.types import Example

TYPES = ["name", "company", "address", "organization"]


def ex(target: Any, *targets: str, id: str = "e") -> Example:
    return Example(id=id, input="x", target=target, targets=tuple(targets))


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The  Cat!", "cat"),
        ("  an Apple,   the pear. ", "apple pear"),
        ("theater", "theater"),  # articles only as whole words
        ("A", ""),
        # SQuAD order: punctuation goes BEFORE articles, so "the-cat" -> "thecat" (an
        # articles-first implementation would give "cat").
        ("the-cat", "thecat"),
        ("a.b", "ab"),
        ("Tab\tand\nnewline", "tab and newline"),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


# --------------------------------------------------------------------------- generation


def test_token_f1_by_hand() -> None:
    # "the cat sat" -> [cat, sat]; "a cat sat down" -> [cat, sat, down]
    # common = 2, P = 2/2 = 1, R = 2/3, F1 = 2 * 1 * 2/3 / (1 + 2/3) = 0.8
    assert score_example("token_f1", "the cat sat", "a cat sat down") == pytest.approx(0.8)
    # Max over answers: "dog" scores 0, the second answer 0.8.
    assert score_example("token_f1", "the cat sat", ["dog", "a cat sat down"]) == pytest.approx(0.8)


def test_token_f1_counts_repeated_tokens_once_per_match() -> None:
    # pred [cat, cat, cat], gold [cat]: common = min(3, 1) = 1; P = 1/3, R = 1, F1 = 0.5
    assert score_example("token_f1", "cat cat cat", "cat") == pytest.approx(0.5)
    assert score_example("token_f1", "", "cat") == 0.0
    assert score_example("token_f1", "the", "a") == 1.0  # both normalise to nothing


def test_exact_match_any_of_several_targets() -> None:
    example = ex("Paris", "Paris", "paris, France")
    assert score_example("exact_match", "The paris.", example) == 1.0
    assert score_example("exact_match", "Paris France", example) == 1.0  # second answer
    assert score_example("exact_match", "London", example) == 0.0
    assert score_example("exact_match", "Paris is nice", example) == 0.0
    assert score_example("exact_match", None, example) == 0.0
    assert score_example("exact_match", "x", []) == 0.0  # nothing to match


def test_exact_match_uses_target_when_no_targets() -> None:
    assert score_example("exact_match", "YES", ex("yes")) == 1.0


def test_contains_whole_words() -> None:
    assert score_example("contains", "The answer is Paris.", "paris") == 1.0
    assert score_example("contains", "I live in New York City", "new york") == 1.0
    assert score_example("contains", "Parisian food", "paris") == 0.0
    assert score_example("contains", "it is London", ["Rome", "the London"]) == 1.0
    assert score_example("contains", "", "paris") == 0.0


def test_set_match_order_insensitive() -> None:
    assert score_example("set_match", "c, a, t", "t a c") == 1.0
    assert score_example("set_match", "T,A,C.", "c a t") == 1.0
    assert score_example("set_match", "a a b", "b, a") == 1.0  # a set: duplicates collapse
    assert score_example("set_match", "c a", "c a t") == 0.0
    # The letter "a" is an item, not an article to drop.
    assert score_example("set_match", "a, b", "b") == 0.0
    assert score_example("set_match", "dog, cat", ex("x", "fish", "cat dog")) == 1.0


def test_accuracy_is_exact_after_strip() -> None:
    assert score_example("accuracy", " positive\n", ex("positive")) == 1.0
    assert score_example("accuracy", "Positive", ex("positive")) == 0.0
    assert score_example("macro_f1", "negative", "negative") == 1.0  # per example: a hit


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        score_example("bleu", "a", "a")
    message = str(info.value)
    assert "'bleu'" in message and "field 'metric'" in message and "use one of" in message
    for name in METRICS:
        assert name in message
    assert check_metric("token_f1") == "token_f1"
    with pytest.raises(ConfigError):
        corpus_score("f1", ["a"], ["a"])


def test_dict_target_needs_entity_metric() -> None:
    with pytest.raises(TypeError, match="entity_f1"):
        score_example("exact_match", "x", {"name": ["x"]})


# --------------------------------------------------------------------------- classification


def test_classification_report_three_classes_by_hand() -> None:
    labels = ["cat", "dog", "bird"]
    targets = ["cat", "cat", "cat", "dog", "dog", "bird"]
    preds = ["cat", "dog", "cat", "dog", "cat", "dog"]
    # cat:  TP = 2 (#0, #2), predicted 3 times (#0 #2 #4), support 3 -> P = R = F1 = 2/3
    # dog:  TP = 1 (#3), predicted 3 times (#1 #3 #5), support 2 -> P = 1/3, R = 1/2,
    #       F1 = 2 * 1 / (3 + 2) = 0.4
    # bird: TP = 0, never predicted (P = 0/0 -> 0), support 1 -> R = 0, F1 = 0
    # macro F1 = (2/3 + 0.4 + 0) / 3 = 16/45; macro P = (2/3 + 1/3 + 0) / 3 = 1/3;
    # macro R = (2/3 + 1/2 + 0) / 3 = 7/18
    # micro: TP = 3, predicted 6, gold 6 -> P = R = F1 = 0.5 = accuracy 3/6
    report = classification_report(preds, targets, labels)
    per = report["per_label"]
    assert per["cat"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    )
    assert per["dog"] == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1": 0.4, "support": 2})
    assert per["bird"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro_f1"] == pytest.approx(16 / 45)
    assert report["macro_precision"] == pytest.approx(1 / 3)
    assert report["macro_recall"] == pytest.approx(7 / 18)
    assert report["micro_f1"] == pytest.approx(0.5)
    assert report["accuracy"] == pytest.approx(0.5)
    assert report["n"] == 6
    assert list(per) == labels


def test_micro_f1_from_summed_counts_not_accuracy() -> None:
    # "junk" is outside the label set: a miss for "b" but no one's false positive.
    # a: TP 1, pred 1, gold 1; b: TP 0, pred 0, gold 1.
    # micro: TP 1, pred 1, gold 2 -> P = 1, R = 1/2, F1 = 2/3; accuracy = 1/2.
    report = classification_report(["a", "junk"], ["a", "b"], ["a", "b"])
    assert report["micro_precision"] == 1.0
    assert report["micro_recall"] == 0.5
    assert report["micro_f1"] == pytest.approx(2 / 3)
    assert report["accuracy"] == 0.5
    assert report["macro_f1"] == pytest.approx(0.5)  # (1 + 0) / 2


def test_zero_over_zero_precision_is_zero() -> None:
    report = classification_report(["a", "a"], ["a", "b"], ["a", "b"])
    assert report["per_label"]["b"]["precision"] == 0.0  # b never predicted: 0/0
    empty = classification_report([], [], ["a"])
    assert empty["accuracy"] == 0.0 and empty["macro_f1"] == 0.0 and empty["micro_f1"] == 0.0


def test_classification_report_errors() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        classification_report(["a", "b"], ["a"], ["a"])
    with pytest.raises(ConfigError, match="labels"):
        classification_report(["a"], ["a"], [])


# --------------------------------------------------------------------------- entities


GOLD_1 = {"name": ["张三", "张三"], "company": ["阿里巴巴"]}
PRED_1 = {"name": ["张三"], "organization": ["阿里巴巴"]}
GOLD_2 = {"address": ["北京"]}
PRED_2 = {"address": ["北京", "北京"]}


def test_entity_f1_duplicates_and_wrong_type_by_hand() -> None:
    # gold pairs: (name,张三) x2, (company,阿里巴巴), (address,北京)          -> 4
    # pred pairs: (name,张三) x1, (organization,阿里巴巴), (address,北京) x2  -> 4
    # hits: name min(1, 2) = 1, address min(2, 1) = 1; wrong type is no hit -> TP = 2
    # P = 2/4, R = 2/4, F1 = 0.5  (a set-based version would say 2/3)
    result = entity_f1([PRED_1, PRED_2], [GOLD_1, GOLD_2])
    assert (result["tp"], result["n_pred"], result["n_gold"]) == (2, 4, 4)
    assert result["precision"] == result["recall"] == result["f1"] == pytest.approx(0.5)
    per = result["per_type"]
    # name: TP 1, pred 1, gold 2 -> P 1, R 1/2, F1 2/3
    assert per["name"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    )
    # address: TP 1, pred 2, gold 1 -> P 1/2, R 1, F1 2/3
    assert per["address"]["f1"] == pytest.approx(2 / 3)
    assert per["company"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert per["organization"]["support"] == 0 and per["organization"]["f1"] == 0.0


def test_entity_f1_per_example_and_edge_cases() -> None:
    # Example 1 alone: TP 1, pred 2, gold 3 -> F1 = 2 * 1 / (2 + 3) = 0.4
    assert score_example("entity_f1", PRED_1, ex(GOLD_1)) == pytest.approx(0.4)
    # Example 2 alone: TP 1, pred 2, gold 1 -> F1 = 2/3
    assert score_example("entity_f1", PRED_2, GOLD_2) == pytest.approx(2 / 3)
    assert score_example("entity_f1", {}, {}) == 1.0  # nothing to find, nothing found
    assert score_example("entity_f1", None, GOLD_2) == 0.0
    assert score_example("entity_f1", "address: 北京", GOLD_2) == 1.0  # text is parsed
    # CLUENER's own span format: each span is one mention.
    spans = {"name": {"张三": [[0, 1], [5, 6]]}}
    assert entity_f1([{"name": ["张三", "张三"]}], [spans])["f1"] == 1.0
    with pytest.raises(ValueError):
        entity_f1([{}], [])


def test_parse_entities_json() -> None:
    text = '{"name": ["张三", "李四"], "person": ["x"], "company": ["阿里"]}'
    assert parse_entities(text, TYPES) == {"name": ["张三", "李四"], "company": ["阿里"]}
    fenced = 'Sure! Here they are:\n```json\n{"Name": "王五", "address": []}\n```'
    assert parse_entities(fenced, TYPES) == {"name": ["王五"]}
    assert parse_entities('{"name": {"张三": [[0, 1], [4, 5]]}}', TYPES) == {
        "name": ["张三", "张三"]
    }
    assert parse_entities('{"name": ["无"], "company": [1, null]}', TYPES) == {}


def test_parse_entities_lines_and_full_width_colon() -> None:
    text = "name: 张三, 李四\ncompany: 阿里巴巴\nfoo: bar\nsurname: 赵"
    assert parse_entities(text, TYPES) == {"name": ["张三", "李四"], "company": ["阿里巴巴"]}
    assert parse_entities("name：张三，李四、王五", TYPES) == {"name": ["张三", "李四", "王五"]}
    assert parse_entities("- **Name**: 张三; company: 阿里", TYPES) == {
        "name": ["张三"],
        "company": ["阿里"],
    }
    assert parse_entities("{'name': ['张三'], 'address': ['北京']}", TYPES) == {
        "name": ["张三"],
        "address": ["北京"],
    }
    assert parse_entities("name: 无\naddress: none", TYPES) == {}


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "????",
        "{not json",
        "[1, 2, 3]",
        "{{{{",
        "}{",
        "name:",
        ":::",
        "null",
        '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"name": 3}',
        "\x00\ufffd",
    ],
)
def test_parse_entities_garbage_is_empty(garbage: str) -> None:
    assert parse_entities(garbage, TYPES) == {}


def test_parse_entities_never_raises() -> None:
    rng = random.Random(0)
    alphabet = list("{}[]\":：,，name company 张三\n'\\0 null")
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert isinstance(parse_entities(text, TYPES), dict)
    assert parse_entities(None, TYPES) == {}  # type: ignore[arg-type]
    assert parse_entities("name: x", []) == {}


# --------------------------------------------------------------------------- corpus


def test_corpus_score_classification() -> None:
    targets = ["cat", "cat", "cat", "dog", "dog", "bird"]
    preds = ["cat", "dog", "cat", "dog", "cat", "dog"]
    examples = [ex(t, id=str(i)) for i, t in enumerate(targets)]
    score, details = corpus_score("macro_f1", preds, examples, ["cat", "dog", "bird"])
    assert score == pytest.approx(16 / 45)
    assert details["per_label"]["dog"]["f1"] == pytest.approx(0.4)
    assert corpus_score("micro_f1", preds, targets, ["cat", "dog", "bird"])[0] == 0.5
    assert corpus_score("accuracy", preds, examples, ["cat", "dog", "bird"])[0] == 0.5
    # Without labels the label set is the sorted gold labels: the same here.
    assert corpus_score("macro_f1", preds, targets)[0] == pytest.approx(16 / 45)
    assert corpus_score("accuracy", preds, targets) == (0.5, {"n": 6, "mean": 0.5})


def test_corpus_score_generation_is_mean() -> None:
    examples = [ex("a", "Paris"), ex("b", "Rome", "Roma"), ex("c", "Oslo")]
    score, details = corpus_score("exact_match", ["paris!", "roma", "Bergen"], examples)
    assert score == pytest.approx(2 / 3)
    assert details == {"n": 3, "mean": pytest.approx(2 / 3)}
    score, _ = corpus_score("token_f1", ["the cat sat"], ["a cat sat down"])
    assert score == pytest.approx(0.8)
    assert corpus_score("contains", [], []) == (0.0, {"n": 0, "mean": 0.0})


def test_corpus_score_entity_f1() -> None:
    examples = [ex(GOLD_1, id="1"), ex(GOLD_2, id="2")]
    preds: list[Any] = ['{"name": ["张三"], "organization": ["阿里巴巴"]}', PRED_2]
    score, details = corpus_score("entity_f1", preds, examples)
    assert score == pytest.approx(0.5)  # the same counts as the hand-checked test above
    assert details["tp"] == 2 and "per_type" in details


def test_corpus_score_length_mismatch() -> None:
    with pytest.raises(ValueError, match="1 predictions but 2 targets"):
        corpus_score("exact_match", ["a"], ["a", "b"])


# --------------------------------------------------------------------------- custom metrics


def good_metric(prediction: Any, example: Example) -> float:
    return float(prediction == example.target)


def test_check_metric_callable_accepts_good_ones() -> None:
    assert check_metric_callable(good_metric) is good_metric
    assert check_metric_callable(lambda p, e: np.float64(0.5)) is not None
    assert check_metric_callable(lambda p, e: 1) is not None
    real = ex("yes")
    assert check_metric_callable(good_metric, real, prediction="yes") is good_metric


@pytest.mark.parametrize(
    ("fn", "error", "pattern"),
    [
        ("not a function", TypeError, "not callable"),
        (lambda p: 1.0, TypeError, r"cannot take \(prediction, example\)"),
        (lambda p, e: e.target["name"], TypeError, "raised TypeError"),
        (lambda p, e: "1.0", TypeError, "returned str, not a real number"),
        (lambda p, e: None, TypeError, "returned NoneType"),
        (lambda p, e: 1.5, ValueError, r"outside \[0, 1\]"),
        (lambda p, e: -0.1, ValueError, r"outside \[0, 1\]"),
        (lambda p, e: math.nan, ValueError, r"outside \[0, 1\]"),
    ],
)
def test_check_metric_callable_rejects(fn: Any, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern) as info:
        check_metric_callable(fn)
    assert "Fix:" in str(info.value)


def test_check_metric_callable_chains_the_cause() -> None:
    def broken(prediction: Any, example: Example) -> float:
        raise KeyError("boom")

    with pytest.raises(TypeError) as info:
        check_metric_callable(broken)
    assert isinstance(info.value.__cause__, KeyError)
