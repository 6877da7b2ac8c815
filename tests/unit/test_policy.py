"""Operator-selector policy: test vectors from the PromptFlow appendix "Case Study"."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import pytest

from flowpo.search.learning import (
    epoch_reward,
    learn_msgd,
    learn_sarsa,
    msgd_update,
    next_action,
    sarsa_update,
)
from flowpo.search.policy import (
    Q_FLOOR,
    QTable,
    action_probabilities,
    one_class,
    sample_actions,
    section_credit,
)

SECTIONS = ["Address", "Book", "Name", "Company"]
MSGD_OPS = ["Rewrite", "Refine", "Reflect", "COT"]
RL_OPS = ["Sort", "Refine", "Reflect", "COT"]


def table(sections: list[str], ops: list[str], rows: list[list[float]]) -> QTable:
    return QTable(
        sections,
        ops,
        {s: dict(zip(ops, r, strict=True)) for s, r in zip(sections, rows, strict=True)},
    )


def rounded(q: QTable) -> list[list[float]]:
    return [[round(q.get(s, a), 4) for a in q.operators] for s in q.sections]


# ---------------------------------------------------------------- MSGD (appendix)


def test_uniform_start_is_one_over_cells() -> None:
    q = QTable.uniform(SECTIONS, MSGD_OPS)
    assert all(q.get(s, a) == 0.0625 for s in SECTIONS for a in MSGD_OPS)
    assert QTable.uniform(["a", "b"], ["x", "y", "z"]).get("a", "x") == pytest.approx(1 / 6)


def test_msgd_appendix_example() -> None:
    q = QTable.uniform(SECTIONS, MSGD_OPS)
    # (Address, Rewrite): gain +0.02299 on 0.64513, Norm 0.03564, Q 0.0625 -> 0.0647.
    new = msgd_update(q, "Address", "Rewrite", 0.64513, 0.66812, alpha=1.0)
    assert round(0.02299 / 0.64513, 5) == 0.03564
    assert new == pytest.approx(0.0625 * (1 + 0.02299 / 0.64513), abs=1e-12)
    assert round(new, 4) == 0.0647
    # (Book, Refine): 0.64513 -> 0.62440, Norm -0.03213, Q -> 0.0605.
    new = msgd_update(q, "Book", "Refine", 0.64513, 0.62440)
    assert new == pytest.approx(0.0625 * (1 - 0.02073 / 0.64513), abs=1e-12)
    assert round(new, 4) == 0.0605
    assert q.get("Book", "Refine") == new
    # "Update Transition Matrix", as printed.
    assert rounded(q) == [
        [0.0647, 0.0625, 0.0625, 0.0625],
        [0.0625, 0.0605, 0.0625, 0.0625],
        [0.0625, 0.0625, 0.0625, 0.0625],
        [0.0625, 0.0625, 0.0625, 0.0625],
    ]


def test_msgd_alpha_scales_norm() -> None:
    q = QTable.uniform(["s"], ["o"])
    # Norm = (0.6 - 0.5) / 0.5 = 0.2; alpha 2 -> Q * 1.4.
    assert msgd_update(q, "s", "o", 0.5, 0.6, alpha=2.0) == pytest.approx(1.4)


def test_msgd_clamps_to_floor() -> None:
    q = QTable.uniform(["s"], ["o"])
    # Norm = -1, alpha 5: 1 + 5 * -1 = -4 would flip the sign; the floor holds instead.
    assert msgd_update(q, "s", "o", 1.0, 0.0, alpha=5.0) == Q_FLOOR == 1e-6
    assert q.get("s", "o") == 1e-6
    # From the floor, a further loss stays at the floor (never zero or negative).
    assert msgd_update(q, "s", "o", 0.8, 0.1, alpha=3.0) == 1e-6


def test_msgd_zero_parent_is_divided_by_the_floor() -> None:
    # A generation task starts at 0. With the loop's floor 1/|train| = 1/32, a gain of
    # 0.03125 (one example) gives Norm = 0.03125 / 0.03125 = 1 -> Q doubles, not x3e6.
    q = QTable.uniform(["s"], ["o"])
    q.set("s", "o", 0.05)
    assert msgd_update(q, "s", "o", 0.0, 1 / 32, floor=1 / 32) == pytest.approx(0.1)
    # A parent above the floor keeps the paper's relative gain: (0.6-0.5)/0.5 = 0.2.
    assert msgd_update(q, "s", "o", 0.5, 0.6, floor=1 / 32) == pytest.approx(0.12)
    # A loss from a zero parent: Norm = -0.03125 / 0.03125 = -1 -> clamped to the floor.
    assert msgd_update(q, "s", "o", 0.0, -1 / 32, floor=1 / 32) == Q_FLOOR


def test_msgd_zero_parent_uses_epsilon_denominator() -> None:
    q = QTable.uniform(["s"], ["o"])
    # Norm = (0.5 - 0) / 1e-8 = 5e7 -> Q = 1 * (1 + 5e7).
    assert msgd_update(q, "s", "o", 0.0, 0.5) == pytest.approx(1 + 5e7)
    q2 = QTable.uniform(["s"], ["o"])
    assert msgd_update(q2, "s", "o", 0.0, 0.0) == 1.0


# ---------------------------------------------------------------- MSGD-RL / SARSA (appendix)

INIT_RL = [
    [0.0647, 0.0625, 0.0625, 0.0625],
    [0.0605, 0.0605, 0.0820, 0.0625],
    [0.0610, 0.0625, 0.0625, 0.0440],
    [0.0625, 0.0550, 0.0625, 0.0625],
]
# (section, operator, Q(s', a'), printed new Q)
SARSA_ROWS = [
    ("Name", "Reflect", 0.0726, 0.0581),
    ("Book", "Sort", 0.0593, 0.0537),
    ("Company", "Refine", 0.1497, 0.0736),
    ("Book", "COT", 0.0482, 0.0520),
    ("Name", "COT", 0.0419, 0.0412),
]
GRADIENTS = [0.0101, -0.0012, 0.0947, -0.0143, -0.002]


def test_epoch_reward_is_mean_of_gains() -> None:
    # (0.0101 - 0.0012 + 0.0947 - 0.0143 - 0.002) / 5 = 0.0873 / 5 = 0.01746;
    # the paper prints R = 0.0174 (truncated).
    assert epoch_reward(GRADIENTS) == pytest.approx(0.01746, abs=1e-12)
    assert math.floor(epoch_reward(GRADIENTS) * 1e4) / 1e4 == 0.0174
    assert epoch_reward([]) == 0.0
    assert epoch_reward([0.3]) == 0.3


def test_sarsa_appendix_rows() -> None:
    q = table(SECTIONS, RL_OPS, INIT_RL)
    nxt = QTable.from_dict(q.to_dict())  # the next state's table holds Q(s', a')
    for s, a, q_next, _ in SARSA_ROWS:
        nxt.set(s, a, q_next)
    for s, a, q_next, printed in SARSA_ROWS:
        old = q.get(s, a)
        new = sarsa_update(q, s, a, 0.0174, s, a, alpha=0.5, gamma=0.5, next_table=nxt)
        assert new == pytest.approx(old + 0.5 * (0.0174 + 0.5 * q_next - old), abs=1e-12)
        # (Book, Sort): 0.0605 + 0.5 * (0.0174 + 0.02965 - 0.0605) = 0.053775 exactly; the
        # paper prints 0.0537, so the tolerance is |diff| <= 1e-4 rather than exact rounding.
        assert abs(new - printed) <= 1e-4
        assert q.get(s, a) == new
    assert q.get("Book", "Sort") == pytest.approx(0.053775, abs=1e-12)
    assert round(q.get("Name", "Reflect"), 4) == 0.0581
    assert round(q.get("Company", "Refine"), 4) == 0.0736
    assert round(q.get("Book", "COT"), 4) == 0.0520
    assert round(q.get("Name", "COT"), 4) == 0.0412
    # Cells not sampled are untouched.
    assert q.get("Address", "Sort") == 0.0647
    assert q.get("Book", "Reflect") == 0.0820
    assert q.get("Company", "COT") == 0.0625


def test_sarsa_defaults_and_reads_next_from_same_table() -> None:
    q = table(["a", "b"], ["x"], [[0.2], [0.4]])
    # 0.2 + 0.5 * (0.1 + 0.5 * 0.4 - 0.2) = 0.2 + 0.05 = 0.25
    assert sarsa_update(q, "a", "x", 0.1, "b", "x") == pytest.approx(0.25)
    # 0.25 + 1.0 * (0.1 + 0.0 * 0.4 - 0.25) = 0.1 with alpha 1, gamma 0 (0.25 is now the old
    # Q): unbounded with max_step=None; by default one update at most halves Q: 0.125.
    twin = QTable.from_dict(q.to_dict())
    assert sarsa_update(q, "a", "x", 0.1, "b", "x", alpha=1.0, gamma=0.0,
                        max_step=None) == pytest.approx(0.1)
    assert sarsa_update(twin, "a", "x", 0.1, "b", "x", alpha=1.0, gamma=0.0) == pytest.approx(0.125)


def test_sarsa_trust_region_keeps_one_bad_outcome_from_removing_an_operator() -> None:
    # A frame cell at 0.07 (its row's prior) whose edit lost 0.3 on the screening minibatch:
    # 0.07 + 0.5 * (-0.3 + 0.5 * 0.07 - 0.07) = -0.1075, the floor 1e-6 without a bound.
    q = table(["frame"], ["frame"], [[0.07]])
    assert sarsa_update(q, "frame", "frame", -0.3, "frame", "frame") == pytest.approx(0.035)
    # ... and a later +0.34 can double it back: 0.035 + 0.5 * (0.34 + 0.0175 - 0.035) = 0.19625,
    # bounded to 2 x 0.035 = 0.07.
    assert sarsa_update(q, "frame", "frame", 0.34, "frame", "frame") == pytest.approx(0.07)
    unbounded = table(["frame"], ["frame"], [[0.07]])
    assert sarsa_update(unbounded, "frame", "frame", -0.3, "frame", "frame",
                        max_step=None) == Q_FLOOR


def test_sarsa_credits_each_action_with_its_own_gain_and_actual_next_action() -> None:
    q = table(["a", "b"], ["x", "y"], [[0.2, 0.1], [0.4, 0.3]])
    actions = [
        {"section": "a", "operator": "x", "gain": 0.1, "candidate_id": "c1"},
        {"section": "b", "operator": "y", "gain": -0.05, "candidate_id": None},
    ]
    plan = [  # c1 is edited next with (b, x); the failed action's section b has (b, x) too
        {"section": "a", "operator": "y", "parent_id": "c0"},
        {"section": "b", "operator": "x", "parent_id": "c1"},
    ]
    assert next_action(actions[0], plan) == ("b", "x")
    assert next_action(actions[1], plan) == ("b", "x")
    assert next_action({"section": "z", "operator": "y", "candidate_id": "q"}, plan) == ("z", "y")
    learn_sarsa(q, actions, plan)
    # (a,x): 0.2 + 0.5 * (0.1 + 0.5 * 0.4 - 0.2) = 0.25
    assert q.get("a", "x") == pytest.approx(0.25)
    # (b,y): 0.3 + 0.5 * (-0.05 + 0.5 * 0.4 - 0.3) = 0.225 (Q(b,x) = 0.4, untouched)
    assert q.get("b", "y") == pytest.approx(0.225)
    assert q.get("a", "y") == 0.1 and q.get("b", "x") == 0.4


def test_sarsa_epoch_credit_is_the_papers_form() -> None:
    q = table(["a", "b"], ["x", "y"], [[0.2, 0.1], [0.4, 0.3]])
    actions = [
        {"section": "a", "operator": "x", "gain": 0.1},
        {"section": "b", "operator": "y", "gain": -0.05},
    ]
    plan = [{"section": "b", "operator": "x"}, {"section": "a", "operator": "y"}]
    learn_sarsa(q, actions, plan, credit="epoch")
    # R = 0.025 for both; (a,x) pairs with (b,x) = 0.4: 0.2 + 0.5 (0.025 + 0.2 - 0.2)
    assert q.get("a", "x") == pytest.approx(0.2125)
    # (b,y) pairs with (a,y) = 0.1: 0.3 + 0.5 (0.025 + 0.05 - 0.3) = 0.1875
    assert q.get("b", "y") == pytest.approx(0.1875)


def test_learn_msgd_uses_each_parent_and_the_floor() -> None:
    q = table(["a"], ["x", "y"], [[0.1, 0.1]])
    learn_msgd(
        q,
        [
            {"section": "a", "operator": "x", "parent_score": 0.0, "gain": 0.0625},
            {"section": "a", "operator": "y", "parent_score": 0.5, "gain": -0.05},
        ],
        floor=1 / 16,
    )
    assert q.get("a", "x") == pytest.approx(0.2)  # 0.1 * (1 + 0.0625/0.0625)
    assert q.get("a", "y") == pytest.approx(0.09)  # 0.1 * (1 - 0.05/0.5)


def test_prior_gives_each_section_equal_mass_over_its_valid_cells() -> None:
    cells = [("t", "refine"), ("t", "rewrite"), ("f", "refine"), ("frame", "frame")]
    q = QTable.prior(["t", "f", "frame", "steps"], ["refine", "rewrite", "frame"], cells)
    assert q.get("t", "refine") == q.get("t", "rewrite") == pytest.approx(1 / 6)
    assert q.get("f", "refine") == q.get("frame", "frame") == pytest.approx(1 / 3)
    probs = action_probabilities(q, epsilon=0.0, cells=cells)
    assert set(probs) == set(cells)  # no mass on invalid cells or on the empty row
    assert probs[("frame", "frame")] == pytest.approx(1 / 3)
    uniform = action_probabilities(q, epsilon=0.0, cells=cells, uniform=True)
    assert all(p == pytest.approx(1 / 4) for p in uniform.values())


def test_sampling_never_draws_an_invalid_cell() -> None:
    q = QTable.uniform(["a", "b"], ["x", "y"])
    cells = [("a", "x"), ("b", "y")]
    drawn = sample_actions(q, 200, random.Random(1), epsilon=0.5, distinct=False, cells=cells)
    assert set(drawn) == set(cells)


def test_sarsa_clamps_to_floor() -> None:
    q = QTable.uniform(["s"], ["o"])
    # 1 + 1 * (-5 + 0 - 1) = -5 -> floor.
    assert sarsa_update(q, "s", "o", -5.0, "s", "o", alpha=1.0, gamma=0.0,
                        max_step=None) == Q_FLOOR


# ---------------------------------------------------------------- sampling


def test_higher_q_is_chosen_more_often() -> None:
    q = table(["s"], ["hi", "mid", "lo"], [[0.10, 0.05, 0.02]])
    rng = random.Random(0)
    draws = sample_actions(q, 5000, rng, epsilon=0.0, distinct=False)
    c = Counter(op for _, op in draws)
    assert c["hi"] > c["mid"] > c["lo"]
    # Temperature 1: p proportional to Q -> 10/17, 5/17, 2/17.
    for op, p in (("hi", 10 / 17), ("mid", 5 / 17), ("lo", 2 / 17)):
        assert abs(c[op] / 5000 - p) < 0.025
    # A lower temperature sharpens: p proportional to Q^2 -> 100/129 for "hi".
    probs = action_probabilities(q, temperature=0.5, epsilon=0.0)
    assert probs[("s", "hi")] == pytest.approx(100 / 129)


def test_small_q_differences_are_not_flattened() -> None:
    # Q values ~0.06: logits log(Q) keep the ratio 0.0820 / 0.0440 between the two actions.
    q = table(["s"], ["a", "b"], [[0.0820, 0.0440]])
    probs = action_probabilities(q, epsilon=0.0)
    assert probs[("s", "a")] / probs[("s", "b")] == pytest.approx(0.0820 / 0.0440)


def test_epsilon_one_is_uniform() -> None:
    q = table(SECTIONS, RL_OPS, INIT_RL)
    q.set("Book", "Reflect", 5.0)  # would dominate without exploration
    probs = action_probabilities(q, epsilon=1.0)
    assert all(p == pytest.approx(1 / 16) for p in probs.values())
    draws = sample_actions(q, 8000, random.Random(1), epsilon=1.0, distinct=False)
    c = Counter(draws)
    assert len(c) == 16
    assert all(380 <= n <= 620 for n in c.values())  # expected 500 each, sd ~22


def test_epsilon_mixes_uniform_with_softmax() -> None:
    q = table(["s"], ["a", "b"], [[0.3, 0.1]])
    probs = action_probabilities(q, epsilon=0.1)
    # 0.1 / 2 + 0.9 * 0.75 = 0.725
    assert probs[("s", "a")] == pytest.approx(0.725)


def test_section_weights_shift_probability_to_weak_row() -> None:
    q = QTable.uniform(["PER", "LOC", "ORG"], ["r", "f"])
    probs = action_probabilities(q, epsilon=0.0, section_weights={"LOC": 4.0})
    # Row masses 1 : 4 : 1 -> LOC gets 4/6.
    assert sum(p for (s, _), p in probs.items() if s == "LOC") == pytest.approx(4 / 6)
    draws = sample_actions(
        q, 6000, random.Random(2), epsilon=0.0, section_weights={"LOC": 4.0}, distinct=False
    )
    share = sum(1 for s, _ in draws if s == "LOC") / 6000
    assert abs(share - 4 / 6) < 0.03
    # A zero weight removes the row, even from exploration.
    draws = sample_actions(
        q, 500, random.Random(3), epsilon=1.0, section_weights={"PER": 0.0}, distinct=False
    )
    assert {s for s, _ in draws} == {"LOC", "ORG"}


def test_sections_restrict_rows() -> None:
    q = table(SECTIONS, RL_OPS, INIT_RL)
    draws = sample_actions(q, 300, random.Random(4), sections=["Name", "Book"], distinct=False)
    assert {s for s, _ in draws} == {"Name", "Book"}


def test_distinct_avoids_repeats_when_possible() -> None:
    q = table(SECTIONS, RL_OPS, INIT_RL)
    draws = sample_actions(q, 16, random.Random(5))
    assert len(set(draws)) == 16
    draws = sample_actions(q, 20, random.Random(6))
    assert len(draws) == 20 and len(set(draws[:16])) == 16
    few = sample_actions(q, 3, random.Random(7), sections=["Name"])
    assert len(set(few)) == 3
    # Without distinct, a dominant action repeats.
    q.set("Book", "Reflect", 100.0)
    draws = sample_actions(q, 10, random.Random(8), epsilon=0.0, distinct=False)
    assert draws.count(("Book", "Reflect")) >= 9


def test_sampling_is_reproducible_with_seed() -> None:
    q = table(SECTIONS, RL_OPS, INIT_RL)
    assert sample_actions(q, 5, random.Random(42)) == sample_actions(q, 5, random.Random(42))


def test_sampling_rejects_bad_arguments() -> None:
    q = QTable.uniform(["s"], ["o"])
    with pytest.raises(ValueError):
        sample_actions(q, 1, random.Random(0), temperature=0.0)
    with pytest.raises(ValueError):
        sample_actions(q, 1, random.Random(0), epsilon=1.5)
    with pytest.raises(ValueError):
        sample_actions(q, 1, random.Random(0), section_weights={"s": -1.0})
    with pytest.raises(ValueError):
        sample_actions(q, 1, random.Random(0), sections=[])


# ---------------------------------------------------------------- section credit


def test_section_credit_weak_labels_first() -> None:
    per_label = {
        "PER": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 10},
        "LOC": {"precision": 0.5, "recall": 0.3, "f1": 0.4, "support": 10},
    }
    sections = ["task", "label:PER", "label:LOC", "output"]

    def label_of(s: str) -> str | None:
        return s.split(":", 1)[1] if s.startswith("label:") else None

    w = section_credit(per_label, sections, label_of)
    # Raw: task 1, PER 1 + 0.1 * 2 = 1.2, LOC 1 + 0.6 * 2 = 2.2, output 1; sum 5.4.
    # Normalised by 4 / 5.4: 0.740741, 0.888889, 1.629630, 0.740741 (mean 1).
    assert w["task"] == pytest.approx(4 / 5.4)
    assert w["label:PER"] == pytest.approx(1.2 * 4 / 5.4)
    assert w["label:LOC"] == pytest.approx(2.2 * 4 / 5.4)
    assert w["output"] == pytest.approx(4 / 5.4)
    assert sum(w.values()) / 4 == pytest.approx(1.0)
    # boost 0 -> all equal; a label missing from per_label counts as untied.
    assert section_credit(per_label, sections, label_of, boost=0.0) == dict.fromkeys(sections, 1.0)
    w2 = section_credit(per_label, ["label:ORG", "label:LOC"], label_of)
    # Raw 1, 2.2; sum 3.2 -> 2/3.2 = 0.625, 4.4/3.2 = 1.375.
    assert w2 == pytest.approx({"label:ORG": 0.625, "label:LOC": 1.375})
    assert section_credit(per_label, [], label_of) == {}


def test_section_credit_after_a_one_class_collapse_goes_to_the_frame_and_label_words() -> None:
    # every input answered 'neg': pos is recognised once in 16 (recall 1/16 <= 1/4)
    per_label = {
        "neg": {"precision": 0.52, "recall": 1.0, "f1": 0.68, "support": 16},
        "pos": {"precision": 1.0, "recall": 0.0625, "f1": 0.12, "support": 16},
    }
    sections = ["task", "label:neg", "label:pos", "frame", "label_words"]

    def label_of(s: str) -> str | None:
        return s.split(":", 1)[1] if s.startswith("label:") else None

    assert one_class(per_label)
    w = section_credit(per_label, sections, label_of, bias_rows=("frame", "label_words"))
    # Raw: task 1, neg 1, pos 1, frame 3, label_words 3; sum 9; scaled by 5 / 9.
    assert w == pytest.approx({"task": 5 / 9, "label:neg": 5 / 9, "label:pos": 5 / 9,
                               "frame": 15 / 9, "label_words": 15 / 9})
    # without a collapse the weak label is boosted as before: pos 1 + 0.88 * 2 = 2.76
    per_label["pos"]["recall"] = 0.5
    w = section_credit(per_label, sections, label_of, bias_rows=("frame", "label_words"))
    raw = {"task": 1, "label:neg": 1 + 0.32 * 2, "label:pos": 2.76, "frame": 1, "label_words": 1}
    total = sum(raw.values())
    assert w == pytest.approx({k: v * 5 / total for k, v in raw.items()})
    # a collapse with no bias row to draw (the frame and words frozen) changes nothing
    per_label["pos"]["recall"] = 0.0
    assert section_credit(per_label, ["task", "label:pos"], label_of, bias_rows=("frame",)) \
        == pytest.approx({"task": 2 / 3.76, "label:pos": 2 * 2.76 / 3.76})


# ---------------------------------------------------------------- table operations


def test_to_dict_from_dict_round_trip() -> None:
    q = table(SECTIONS, RL_OPS, INIT_RL)
    data = json.loads(json.dumps(q.to_dict()))
    back = QTable.from_dict(data)
    assert back == q
    assert back.sections == SECTIONS and back.operators == RL_OPS
    back.set("Book", "Sort", 0.5)
    assert q.get("Book", "Sort") == 0.0605  # a copy, not shared
    # JSON may bring ints; they come back as floats, and stray keys are dropped.
    raw = {"sections": ["s"], "operators": ["o"], "values": {"s": {"o": 1, "old": 2}, "t": {}}}
    small = QTable.from_dict(raw)
    assert small.values == {"s": {"o": 1.0}} and isinstance(small.get("s", "o"), float)


def test_table_rejects_missing_cells_and_unknown_keys() -> None:
    with pytest.raises(ValueError):
        QTable(["s"], ["a", "b"], {"s": {"a": 0.5}})
    q = QTable.uniform(["s"], ["a"])
    with pytest.raises(KeyError):
        q.get("s", "nope")
    with pytest.raises(KeyError):
        q.set("nope", "a", 0.1)
    with pytest.raises(ValueError):
        q.set("s", "a", float("nan"))


def test_add_section_starts_at_mean() -> None:
    q = table(["a", "b"], ["x", "y"], [[0.1, 0.2], [0.3, 0.6]])
    q.add_section("few_shot")
    assert q.sections == ["a", "b", "few_shot"]
    # mean(0.1, 0.2, 0.3, 0.6) = 0.3
    assert q.get("few_shot", "x") == pytest.approx(0.3)
    assert q.get("few_shot", "y") == pytest.approx(0.3)
    q.set("few_shot", "x", 0.9)
    q.add_section("few_shot")  # idempotent
    assert q.sections == ["a", "b", "few_shot"] and q.get("few_shot", "x") == 0.9
    empty = QTable.uniform([], ["x", "y"])
    empty.add_section("s")
    assert empty.get("s", "x") == 0.5


def test_restrict_is_a_view_of_rows() -> None:
    q = table(SECTIONS, RL_OPS, INIT_RL)
    view = q.restrict(["Book", "Name"])
    assert view.sections == ["Book", "Name"] and view.operators == RL_OPS
    assert view.get("Book", "Reflect") == 0.0820
    with pytest.raises(KeyError):
        view.get("Address", "Sort")
    view.set("Name", "COT", 0.07)
    assert q.get("Name", "COT") == 0.07  # writes through
    with pytest.raises(KeyError):
        q.restrict(["Nope"])


def test_blend_weighted_tables() -> None:
    target = QTable.uniform(["s1", "s2"], ["o1", "o2"])  # u = 0.25
    a = table(["s1", "s2"], ["o1", "o2"], [[0.4, 0.2], [0.2, 0.2]])  # mean 0.25
    b = table(["s1", "s3"], ["o1", "o3"], [[0.1, 0.3], [0.3, 0.3]])  # mean 0.25
    out = target.blend([(a, 0.75), (b, 0.25)], own_weight=0.0)
    # b's missing cells count as u = 0.25:
    # s1.o1 = 0.75 * 0.4 + 0.25 * 0.1 = 0.325; the other three = 0.75 * 0.2 + 0.25 * 0.25 = 0.2125.
    # Sum 0.9625, mean 0.240625 -> rescale to mean 0.25: 0.325 / 0.9625, 0.2125 / 0.9625.
    assert out.get("s1", "o1") == pytest.approx(0.325 / 0.9625)  # 0.337662
    for s, o in (("s1", "o2"), ("s2", "o1"), ("s2", "o2")):
        assert out.get(s, o) == pytest.approx(0.2125 / 0.9625)  # 0.220779
    assert out.mean() == pytest.approx(0.25)
    assert out.sections == ["s1", "s2"] and out.operators == ["o1", "o2"]
    assert target.get("s1", "o1") == 0.25  # target untouched


def test_blend_rescales_tables_of_other_sizes() -> None:
    target = QTable.uniform(["s1", "s2"], ["o1", "o2"])
    a = table(["s1", "s2"], ["o1", "o2"], [[0.4, 0.2], [0.2, 0.2]])
    scaled = table(["s1", "s2"], ["o1", "o2"], [[0.04, 0.02], [0.02, 0.02]])
    one = target.blend([(a, 1.0)], own_weight=0.0)
    assert one.get("s1", "o1") == pytest.approx(0.4)
    # Scaled by 1/10 (mean 0.025), it is rescaled to mean u = 0.25 first: same blend.
    from_scaled = target.blend([(scaled, 1.0)], own_weight=0.0)
    for s in ("s1", "s2"):
        assert from_scaled.values[s] == pytest.approx(one.values[s])
    assert target.blend([(scaled, 3.0)], own_weight=0.0).get("s1", "o1") == pytest.approx(0.4)
    # A 1x2 table (its own uniform is 0.5) is rescaled to mean 0.25 before missing cells
    # are filled: [0.6, 0.4] -> [0.3, 0.2]; row s2 is missing -> 0.25, 0.25; mean already 0.25.
    c = table(["s1"], ["o1", "o2"], [[0.6, 0.4]])
    out = target.blend([(c, 1.0)], own_weight=0.0)
    assert out.values["s1"] == pytest.approx({"o1": 0.3, "o2": 0.2})
    assert out.values["s2"] == pytest.approx({"o1": 0.25, "o2": 0.25})
    assert target.blend([]).to_dict() == target.to_dict()
    assert target.blend([(a, 0.0)]).to_dict() == target.to_dict()
    with pytest.raises(ValueError):
        target.blend([(a, -1.0)])
    with pytest.raises(ValueError):
        target.blend([(a, 1.0)], own_weight=-1.0)


def test_blend_shifts_the_prior_instead_of_replacing_it() -> None:
    # The run's prior (e.g. the frame row heavier than its share) takes part with weight 1.
    prior = table(["s1", "s2"], ["o1", "o2"], [[0.4, 0.1], [0.25, 0.25]])  # mean 0.25
    past = table(["s1", "s2"], ["o1", "o2"], [[0.1, 0.1], [0.1, 0.5]])  # mean 0.2
    out = prior.blend([(past, 1.0)])
    # past is rescaled by 0.25 / 0.2 = 1.25 -> [[0.125, 0.125], [0.125, 0.625]]; the average
    # with the prior, weights 1 and 1: [[0.2625, 0.1125], [0.1875, 0.4375]] (mean 0.25 already).
    assert rounded(out) == [[0.2625, 0.1125], [0.1875, 0.4375]]
    assert out.get("s1", "o1") > out.get("s1", "o2")  # the prior's lead survives one past run
    assert prior.get("s1", "o1") == 0.4  # the prior untouched
    # A past table lacking a cell leaves the prior's value there (not the uniform value).
    short = table(["s1"], ["o1", "o2"], [[0.3, 0.2]])  # mean 0.25, scale 1
    part = prior.blend([(short, 1.0)])
    assert rounded(part) == [[0.35, 0.15], [0.25, 0.25]]
