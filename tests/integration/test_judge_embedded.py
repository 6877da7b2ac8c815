"""The embedded model as an LLM judge: grades or counted failures, never guesses; cached."""

import pytest

import flowpo
from flowpo.models.chat import LocalChatModel
from flowpo.types import Example

pytestmark = pytest.mark.slow


def test_the_embedded_model_judges(embedded):
    judge = flowpo.Judge(
        LocalChatModel(lm=embedded, max_new_tokens=24),
        "The answer must be the plural of the input word.",
    )
    cases = [("cat", "cats", "cats"), ("dog", "dogs", "dog"), ("box", "boxes", "boxs")]
    grades = [judge(Example(f"e{i}", w, t), out) for i, (w, t, out) in enumerate(cases)]
    assert all(0.0 <= score <= 1.0 for score, _ in grades)
    assert judge.stats["calls"] == 3
    failed = [g for g in grades if "no valid score" in g[1]]
    assert judge.stats["failures"] == len(failed)  # each failure is counted, none guessed
    again = judge(Example("e0", "cat", "cats"), "cats")
    assert again == grades[0] and judge.stats["cached"] == 1
    print("embedded judge:", grades, judge.stats)
