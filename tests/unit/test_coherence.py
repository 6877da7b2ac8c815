"""Label words, text and demonstrations agree: relabel, stale words, best_prompt.md."""

import doctest
from dataclasses import replace

import flowpo.search.coherence as coherence
from flowpo.prompt import Prompt, Section
from flowpo.run.rundir import BEST_MD, write_best
from flowpo.search.coherence import (
    alike_variants,
    incoherent,
    relabel,
    stale_words,
    written_alike,
)
from flowpo.search.drafting import sections_from_manual
from flowpo.search.labelwords import related_words
from flowpo.tasks import load_task


def test_a_label_word_change_rewrites_the_text_and_the_demonstrations(tmp_path):
    task = load_task("sst2")  # words no/yes
    start = sections_from_manual(task, None)
    demos = "Input : a great film Output: yes\nInput : dull Output: no"
    prompt = start.with_section("examples", demos)
    assert stale_words(prompt, task) == []
    new = relabel(prompt, {"negative": "no", "positive": "yes"},
                  {"negative": "bad", "positive": "good"})
    assert new.verbalizers == {"negative": "bad", "positive": "good"}
    text = new.text
    assert "'no'" not in text and "'yes'" not in text
    assert "Answer with one word: 'bad' or 'good'." in text
    assert "Output: good\nInput : dull Output: bad" in text
    assert "best described as 'negative'" in text  # the label's name is not an answer word
    assert stale_words(new, task) == []
    # changing the words alone leaves the text naming the old ones: refused
    only_words = Prompt(prompt.sections, prompt.template, {"negative": "bad", "positive": "good"})
    assert stale_words(only_words, task) == ["no", "yes"]
    # round trip through best_prompt.md keeps text and words together
    write_best(tmp_path, new, {}, task.template, task.verbalizers)
    back = Prompt.from_file(tmp_path / BEST_MD)
    assert back.verbalizers == new.verbalizers and back.text == new.text
    assert stale_words(back, task) == []


def test_swapped_words_do_not_chain():
    p = Prompt.from_text("Say 'no' for bad and 'yes' for good.")
    q = relabel(p, {"a": "no", "b": "yes"}, {"a": "yes", "b": "no"})
    assert q.text == "Say 'yes' for bad and 'no' for good."


def test_related_words_keep_words_near_their_own_label():
    vectors = {
        "negative": [1.0, 0.0, 0.0], "positive": [0.0, 1.0, 0.0], "worse": [0.9, 0.1, 0.0],
        "animal": [0.3, 0.3, 0.0], "great": [0.1, 0.95, 0.0],
        "neither": [0.44, 0.0, 0.898], "bad": [0.46, 0.0, 0.888],  # cos 0.44 / 0.46 to negative
    }

    def embed(texts):
        import numpy as np

        rows = np.array([vectors[t] for t in texts], dtype=float)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    labels = ["negative", "positive"]
    # animal: cos 0.707 to both names: not closer to either, so not related to negative
    assert related_words(["worse", "animal", "great"], labels, 0, embed) == [True, False, False]
    assert related_words(["worse", "animal", "great"], labels, 1, embed) == [False, False, True]
    # the floor is 0.45: a word this far from every label name is not one a reader links
    assert related_words(["neither", "bad"], labels, 0, embed) == [False, True]


def test_coherence_examples_run():
    failed, attempted = doctest.testmod(coherence)
    assert attempted and failed == 0


def test_mixed_case_label_words_get_variants_written_alike_with_their_text():
    task = load_task("sst2")
    start = sections_from_manual(task, None).with_section("examples", "Input : dull Output: no")
    mixed = relabel(start, {"negative": "no", "positive": "yes"},
                    {"negative": "Negative", "positive": "positive"})
    assert not written_alike(mixed.verbalizers.values())
    upper, lower = alike_variants(mixed, task)
    assert upper.verbalizers == {"negative": "Negative", "positive": "Positive"}
    assert lower.verbalizers == {"negative": "negative", "positive": "positive"}
    assert "Answer with one word: 'Negative' or 'Positive'." in upper.text
    assert "Output: negative" in lower.text and "Output: Negative" not in lower.text
    assert stale_words(upper, task) == [] and stale_words(lower, task) == []
    assert alike_variants(upper, task) == []  # already alike: nothing to add
    # words that would collide once written alike are left out
    clash = relabel(start, {"negative": "no", "positive": "yes"},
                    {"negative": "Good", "positive": "good"})
    assert alike_variants(clash, task) == []


def test_incoherent_names_stale_words_and_chat_replies():
    task = load_task("sst2")
    start = Prompt((Section("task", "Answer 'no' or 'yes'."),))
    assert incoherent(start, task) is None
    reply = Prompt((Section("task", "Classify it."), Section("format", "Sure, I can help.")))
    assert "section 'format'" in (incoherent(reply, task) or "")
    stated = Prompt((Section("task", "A film review. The answer is yes."),))
    assert "states an answer ('yes')" in (incoherent(stated, task) or "")
    relabelled = replace(start, verbalizers={"negative": "bad", "positive": "good"})
    assert "no, yes" in (incoherent(relabelled, task) or "")
    demos = Prompt((Section("task", "Classify it."), Section("examples", "Input: ok Output: yes")))
    assert incoherent(demos, task) is None  # a demonstration's answer is data
