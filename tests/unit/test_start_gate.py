"""The retrieving start joins the search only when it clearly beats the plain start."""

from flowpo.search.scoring import clearly_better
from flowpo.types import EvalResult, ExampleResult


def _result(scores):
    examples = [ExampleResult(str(i), None, None, float(s)) for i, s in enumerate(scores)]
    return EvalResult("fp", "accuracy", sum(scores) / len(scores), examples=examples)


def test_ten_wins_and_one_loss_are_clearly_better_five_and_two_are_not():
    old = _result([0] * 10 + [1] + [1] * 5)
    new = _result([1] * 10 + [0] + [1] * 5)  # 10 wins, 1 loss: 9 > 2 * sqrt(11) = 6.63
    assert clearly_better(new, old) and not clearly_better(old, new)
    old = _result([0] * 5 + [1, 1] + [0] * 9)
    new = _result([1] * 5 + [0, 0] + [0] * 9)  # 5 wins, 2 losses: 3 < 2 * sqrt(7) = 5.29
    assert not clearly_better(new, old)
    assert clearly_better(new, old, z=1.0)  # 3 > 1 * 2.65


def test_only_examples_both_scored_count_and_ties_are_not_wins():
    old = _result([1, 0, 0, 0, 0])
    new = _result([1, 1, 1, 1, 1, 1, 1, 1, 1])  # ids 5-8 unknown to old: not compared
    assert not clearly_better(new, old)  # 4 wins: 4 = 2 * sqrt(4), not more
    assert not clearly_better(old, old)
