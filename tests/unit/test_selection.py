"""Final selection: pooled train+dev; ties within one standard error go to the deployable."""

import doctest

import flowpo.search.selection as selection
from flowpo.prompt import Prompt
from flowpo.search.selection import best, choose, pooled, wilson


def _f(cid, text, train, dev):
    return {"id": cid, "prompt": Prompt.from_text(text).to_dict(), "train_score": train,
            "val_score": dev, "train_soft": 0.0, "val_soft": 0.0}


def test_close_finalists_tie_and_the_shortest_wins():
    text = "Read the review carefully and then decide its sentiment please."
    long = _f("a", text, 0.875, 0.84375)
    short = _f("b", "Decide the sentiment.", 0.84375, 0.84375)
    # pooled: a = (28 + 27) / 64 = 0.859; b = (27 + 27) / 64 = 0.84375; se(a) = 0.0435
    assert abs(pooled(long, 32, 32, 0.0) - 55 / 64) < 1e-12
    assert choose([long, short], 32, 32, 0.0)["id"] == "b"


def test_among_ties_label_words_written_alike_win_before_length():
    mixed = _f("a", "Decide.", 0.875, 0.84375)
    alike = _f("b", "Decide the sentiment.", 0.84375, 0.8125)
    # pooled: a = 55/64 = 0.859, b = 53/64 = 0.828; se(a) = 0.0435: tied
    words = {"a": False, "b": True}
    assert choose([mixed, alike], 32, 32, 0.0)["id"] == "a"  # shorter
    assert choose([mixed, alike], 32, 32, 0.0, lambda c: words[c["id"]])["id"] == "b"
    # the best before any tie-break is the mixed-case one: it is the one whose words the
    # finalizer writes alike, so that casing alone does not hand the win to another prompt
    assert best([alike, mixed], 32, 32, 0.0)["id"] == "a"
    far = _f("c", "Decide the sentiment.", 0.75, 0.75)  # 0.75 < 0.859 - 0.0435: not tied
    assert choose([mixed, far], 32, 32, 0.0, lambda c: c["id"] != "a")["id"] == "a"


def test_among_ties_fixed_demonstrations_win_before_words_written_alike():
    mixed = _f("a", "Decide.", 0.84375, 0.6875)  # a swept frame, Negative/positive
    retrieving = _f("b", "Decide.", 0.6875, 0.75)  # the retrieving start, written alike
    retrieving["prompt"] = Prompt.from_text("Decide.", retrieve=4).to_dict()
    # pooled: a = (27 + 22) / 64 = 0.766, b = (22 + 24) / 64 = 0.719; se(a) = 0.053: tied
    words = {"a": False, "b": True}
    assert choose([retrieving, mixed], 32, 32, 0.0, lambda c: words[c["id"]])["id"] == "a"


def test_among_ties_a_prompt_that_tells_labels_apart_wins_over_a_constant_one():
    constant = _f("a", "Decide.", 0.5, 0.53125)  # RTE seed 13: always not_entailment
    constant["per_label"] = {"yes": {"recall": 0.0, "support": 16},
                             "no": {"recall": 1.0, "support": 16}}
    retrieving = _f("b", "Decide whether it follows.", 0.53125, 0.53125)
    retrieving["prompt"] = Prompt.from_text("Decide whether it follows.", retrieve=4).to_dict()
    retrieving["per_label"] = {"yes": {"recall": 0.44, "support": 16},
                               "no": {"recall": 0.62, "support": 16}}
    # pooled: a = 33/64 = 0.516, b = 34/64 = 0.531; se(b) = 0.062: tied. Shorter and with
    # fixed demonstrations, a would win, but it answers one label whatever the input.
    assert choose([constant, retrieving], 32, 32, 0.0)["id"] == "b"
    retrieving["per_label"]["yes"]["recall"] = 0.25  # at most one label recognised: both
    assert choose([constant, retrieving], 32, 32, 0.0)["id"] == "a"


def test_among_ties_a_prompt_that_states_the_task_wins_over_a_frame_alone():
    template = "Sentence: {input}\nCategory:"
    framed = _f("a", "Classify the sentiment of the sentence.", 0.84375, 0.78125)
    framed["prompt"] = Prompt.from_text("Classify the sentiment of the sentence.",
                                        template=template).to_dict()
    alone = _f("b", "", 0.84375, 0.78125)  # the same frame, its instruction emptied
    alone["prompt"] = Prompt.from_text("", template=template).to_dict()
    # the README job (session 18): a tie; the empty one is shorter (0 words vs 6)
    assert choose([alone, framed], 32, 32, 0.0)["id"] == "a"
    clear = _f("b", "", 0.96875, 0.96875)  # pooled 0.969 > 0.813 + se: not tied
    clear["prompt"] = alone["prompt"]
    assert choose([framed, clear], 32, 32, 0.0)["id"] == "b"


def test_a_clear_winner_is_kept_however_long():
    long = _f("a", "Read the review carefully and then decide its sentiment please.", 0.875, 0.875)
    short = _f("b", "Decide.", 0.5, 0.5)
    assert choose([short, long], 32, 32, 0.0)["id"] == "a"


def test_wilson_interval_is_the_textbook_one():
    low, high = wilson(0.5, 32)
    assert round(low, 3) == 0.336 and round(high, 3) == 0.664
    assert wilson(0.0, 0) == (0.0, 1.0)
    failed, attempted = doctest.testmod(selection)
    assert attempted and failed == 0
