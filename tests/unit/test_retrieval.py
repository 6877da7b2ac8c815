"""Demonstrations retrieved per input: the index, the rendering, the evaluator, the operator."""

import asyncio
import random
from dataclasses import replace

import numpy as np
import pytest

from flowpo.errors import DataError
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.evaluation.retrieval import DemoIndex, retrieval_pool_size
from flowpo.models.base import TargetLM
from flowpo.operators.base import OperatorContext
from flowpo.operators.fewshot import FewShot
from flowpo.prompt import Prompt, Section
from flowpo.run.rundir import write_best
from flowpo.search.labelwords import best_label_words
from flowpo.tasks.task import Task
from flowpo.types import Example


def embed(texts):
    """Embeds a text as its normalised (count of 'a', count of 'b', 1e-3)."""
    rows = np.array([[t.count("a"), t.count("b"), 1e-3] for t in texts], dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def task():
    rows = [("aaaa", "x"), ("aab", "x"), ("abb", "y"), ("bbbb", "y")]
    train = [Example(f"t{i}", text, lab) for i, (text, lab) in enumerate(rows)]
    return Task(
        "ab", "classification", "accuracy", ("x", "y"), {"x": "ex", "y": "why"},
        template="{prompt}\nQ: {text}\nA:",
        splits={"train": train[:3], "dev": train[3:], "test": [Example("q0", "aaab", "x")]},
    )


def test_the_nearest_come_last_and_an_example_never_retrieves_itself():
    t = task()
    index = DemoIndex.for_task(t, embed)  # train and dev: 4 examples, test left out
    assert len(index.pool) == 4 == retrieval_pool_size(t)
    [probe] = t.split("test")
    # cos(aaab, aab) = 0.99 > cos(aaab, aaaa) = 0.95: aab is nearest, so it comes last
    assert [e.input for e in index.nearest([probe], ["aaab"], 2)[0]] == ["aaaa", "aab"]
    aab = t.split("train")[1]  # its own nearest is itself: skipped, then aaaa and abb
    assert [e.input for e in index.nearest([aab], ["aab"], 2)[0]] == ["abb", "aaaa"]
    assert len(index.nearest([probe], ["aaab"], 10)[0]) == 4  # k capped at the pool


def test_each_input_is_embedded_once_however_many_prompts_retrieve_for_it():
    seen = []

    def counting(texts):
        seen.extend(texts)
        return embed(texts)

    t = task()
    index = DemoIndex.for_task(t, counting)
    assert sorted(seen) == ["aaaa", "aab", "abb", "bbbb"]  # the pool, embedded to index it
    [probe] = t.split("test")
    first = index.nearest([probe, probe], ["aaab", "aaab"], 2)
    again = index.nearest([probe], ["aaab"], 1)  # another prompt, another k: same vector
    aab = t.split("train")[1]
    index.nearest([aab], ["aab"], 2)  # a pool example's vector is already known
    assert seen.count("aaab") == 1 and len(seen) == 5
    assert [e.input for e in first[0]] == [e.input for e in first[1]] == ["aaaa", "aab"]
    assert [e.input for e in again[0]] == ["aab"]


def test_inputs_outside_the_pool_are_forgotten_past_the_cap_the_pool_never():
    seen = []

    def counting(texts):
        seen.extend(texts)
        return embed(texts)

    t = task()
    pool = DemoIndex.for_task(t, counting).pool
    index = DemoIndex(pool, [e.input for e in pool], counting, max_queries=2)
    probes = [Example(f"q{i}", text, "x") for i, text in enumerate(["ab", "ba", "aba"])]
    for p in probes[:2]:
        index.nearest([p], [p.input], 1)
    index.nearest([probes[0]], ["ab"], 1)  # two held: still known
    assert seen.count("ab") == 1
    near = index.nearest([probes[2]], ["aba"], 1)  # a third: the two are forgotten
    assert near[0] and index.nearest([probes[0]], ["ab"], 1)[0]
    assert seen.count("ab") == 2 and seen.count("aba") == 1
    index.nearest([pool[0]], [pool[0].input], 1)
    assert seen.count(pool[0].input) == 2  # embedded to build each index, never again


def test_demonstrations_use_the_prompts_frame_and_label_words():
    t = task()
    index = DemoIndex.for_task(t, embed)
    prompt = Prompt.from_text("Answer.", verbalizers={"x": "X", "y": "Y"}, retrieve=2)
    [demos] = index.demos(t, prompt, t.split("test"))
    assert demos == "Q: aaaa A: X\nQ: aab A: X"
    framed = replace(prompt, template="{prompt} In: {text} Out:")
    assert index.demos(t, framed, t.split("test"))[0] == "In: aaaa Out: X\nIn: aab Out: X"


def test_demonstrations_follow_the_text_and_start_the_suffix():
    p = Prompt.from_text("Answer.", retrieve=2)
    prefix, pattern = p.split_render("{prompt}\nQ: {text}\nA:", "D1\nD2")
    assert prefix == "Answer." and pattern == "\n\nD1\nD2\nQ: {text}\nA:"
    assert p.render("hi", "{prompt}\nQ: {text}\nA:", "D1") == "Answer.\n\nD1\nQ: hi\nA:"
    # a fixed frame (no prompt slot): the demonstrations go first
    assert p.render("hi", "Q: {text}\nA:", "D1") == "D1\n\nQ: hi\nA:"
    # its split does not depend on the demonstrations, none included (content-free inputs)
    assert p.split_render("{prompt}\nQ: {text}\nA:") == ("Answer.", "\nQ: {text}\nA:")
    assert p.render("hi", "Q: {text}\nA:") == "Q: hi\nA:"
    plain = replace(p, retrieve=0)
    assert plain.split_render("{prompt}\nQ: {text}\nA:") == ("Answer.\nQ:", " {text}\nA:")


def test_retrieval_is_saved_read_back_and_named_in_the_fingerprint():
    p = Prompt.from_text("Answer.", retrieve=4)
    assert "retrieve: 4" in p.to_markdown()
    assert Prompt.from_markdown(p.to_markdown()) == p == Prompt.from_dict(p.to_dict())
    assert p.fingerprint("{prompt} {text}") != replace(p, retrieve=0).fingerprint("{prompt} {text}")
    assert p.near_key("{prompt} {text}") != replace(p, retrieve=2).near_key("{prompt} {text}")
    with pytest.raises(DataError) as e:
        Prompt.from_markdown("---\nretrieve: many\n---\n# task\n\nAnswer.\n")
    assert e.value.field == "retrieve"


def test_the_run_directorys_best_prompt_keeps_retrieval(tmp_path):
    p = Prompt.from_text("Answer.", retrieve=4)
    write_best(tmp_path, p, {}, "{prompt} {text}", {"x": "ex"})
    best = Prompt.from_file(tmp_path / "best_prompt.md")
    assert best.retrieve == 4 and best.template == "{prompt} {text}"
    assert best.verbalizers == {"x": "ex"}


def test_the_langchain_template_takes_the_demos_and_formats_what_is_scored():
    p = Prompt.from_text("Answer {briefly}.", retrieve=2)
    template = p.to_langchain("{prompt}\nQ: {text}\nA:")
    assert set(template.input_variables) == {"text", "demos"}
    out = template.format(text="hi", demos="Q: a A: ex")
    assert out == p.render("hi", "{prompt}\nQ: {text}\nA:", "Q: a A: ex")


class Recorder(TargetLM):
    """Answers 'ex' when the last demonstration before the input says 'ex'."""

    model_id = "fake:recorder"

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, list[str]]] = []

    def check_words(self, words):
        pass

    async def generate(self, prefix, texts, *, max_new_tokens=32):
        raise NotImplementedError

    async def score_labels(self, prefix, texts, words):
        self.seen.append((prefix, list(texts)))
        self.stats.examples += len(texts)
        last = [t.split("\nQ:")[-2].rsplit("A: ", 1)[-1] if "A: " in t else "" for t in texts]
        return [[-0.1, -2.0] if w == "ex" else [-2.0, -0.1] for w in last]


def test_the_evaluator_scores_each_input_with_its_own_demonstrations():
    t = task()
    lm = Recorder()
    ev = Evaluator(t, lm, cache=EvalCache(), demos=DemoIndex.for_task(t, embed))
    plain, nearest = Prompt.from_text("Answer."), Prompt.from_text("Answer.", retrieve=1)
    res = ev.evaluate(nearest, t.split("train"))
    prefix, texts = lm.seen[-1]
    assert prefix == "Answer."
    # aaaa's nearest other example is aab (x); aab's is aaaa (x); abb's is bbbb (y, dev)
    assert texts[0] == "\n\nQ: aab A: ex\nQ: aaaa\nA:"
    assert [r.prediction for r in res.examples] == ["x", "x", "y"] and res.score == 1.0
    assert ev.uncached(nearest, t.split("train")) == 0 and ev.uncached(plain, t.split("train")) == 3
    ev.evaluate(plain, t.split("train"))
    assert lm.seen[-1] == ("Answer.\nQ:", [" aaaa\nA:", " aab\nA:", " abb\nA:"])


def test_few_shot_offers_retrieval_and_fixed_demonstrations_replace_it():
    t = task()
    start = Prompt((Section("task", "Answer."), Section("examples", "Q: aaaa A: ex")))
    ctx = OperatorContext(task=t, rng=random.Random(0), train=t.split("train"), n_shots=2)
    off = asyncio.run(FewShot().apply(start, "examples", ctx))
    assert off.prompts and not any(p.retrieve for p in off.prompts)  # not offered
    out = asyncio.run(FewShot().apply(start, "examples", replace(ctx, nearest=2)))
    [fetching] = [p for p in out.prompts if p.retrieve]
    assert fetching.retrieve == 2 and [s.name for s in fetching.sections] == ["task"]
    back = asyncio.run(FewShot().apply(fetching, "examples", replace(ctx, nearest=2)))
    assert back.prompts and all(p.retrieve == 0 for p in back.prompts)
    assert all("examples" in [s.name for s in p.sections] for p in back.prompts)


def test_a_retrieving_prompt_keeps_its_label_words_without_a_forward_pass():
    class NoCalls:
        def next_token_logprobs(self, prefix, texts):
            raise AssertionError("the label-word search ran the model")

    t = task()
    p = Prompt.from_text("Answer.", retrieve=2, verbalizers={"x": "ex"})
    words = asyncio.run(best_label_words(NoCalls(), t, p, list(t.splits["train"]), 0.0))
    assert words == {**t.verbalizers, "x": "ex"}
