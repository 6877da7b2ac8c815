"""An LLM's new section must read as an instruction, not as a chat reply or an answer."""

import pytest

from flowpo.search.replies import reply_reason

WORDS = ["negative", "positive", "Negative", "Positive"]


@pytest.mark.parametrize(
    "text",
    [
        "In this task, you are given a sentence from a movie review. Answer 'Positive' if the "
        "sentiment is positive and 'Negative' if it is negative.",
        "Answer with one word: 'Negative' or 'Positive'.",
        "The answer is one word.",
        "The answer is 'positive' when the reviewer praises the film, otherwise 'negative'.",
        "Is the review positive? Read it to the end before deciding.",
        "Positive reviews praise the acting. The answer should name the sentiment.",
        "Be brief. Be brief. Read the review.",  # short sentences said twice are no loop
        "Read the review closely. Then decide. Read the review closely.",
    ],
)
def test_instructions_pass(text):
    assert reply_reason(text, WORDS) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("I'm ready to help. What's the user's question?", "opens like an answer"),
        ("Classify the review.\nCertainly, here it is.", "opens like an answer"),
        ("Classify it. I am happy to help you with more reviews.", "offers help"),
        ("The sentence is about a film. The correct answer is positive.", "('positive')"),
        ("Read the review.\n\nThe answer is Negative.", "('Negative')"),
        ("The previous answer was a description of the movie.", "previous answer"),
        # the README's SST-2 run once kept such a task section (train 0.84, dev 0.53)
        ("This is a very literal and uninspired interpretation of a movie review. - " * 3,
         "decoding loop"),
    ],
)
def test_replies_and_stated_answers_are_named(text, why):
    reason = reply_reason(text, WORDS)
    assert reason is not None and why in reason


def test_a_stated_answer_needs_the_task_words():
    # "The answer is blue." is only an answer where 'blue' is one of the task's answers.
    assert reply_reason("The answer is blue.", WORDS) is None
    assert reply_reason("The answer is blue.", ["blue", "red"]) is not None
