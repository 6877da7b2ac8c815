import random
from collections import Counter
from dataclasses import replace
from itertools import combinations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from flowpo.operators.base import (
    EXAMPLES,
    FORMAT,
    REGISTRY,
    TASK,
    BadCase,
    Operator,
    OperatorContext,
    label_section,
)
from flowpo.operators.common import jaccard, tokens
from flowpo.operators.evolution import DifferentialEvolution, differing_sections
from flowpo.operators.fewshot import (
    MAX_DEMO_CHARS,
    FewShot,
    select_balanced,
    select_diverse,
    select_hard,
    select_random,
)
from flowpo.operators.rag import RAG
from flowpo.operators.structure import (
    REMINDER,
    DefineSort,
    Merge,
    RepeatInstructions,
)
from flowpo.prompt import Prompt, Section
from flowpo.tasks.builtin import load_task
from flowpo.tasks.demos import render_demo
from flowpo.tasks.task import Task
from flowpo.types import Candidate, Example

POS, NEG = label_section("positive"), label_section("negative")
ALL_OPERATORS = [FewShot, DefineSort, RepeatInstructions, Merge, DifferentialEvolution, RAG]


@pytest.fixture(scope="module")
def task():
    return load_task("sst2")


def make_ctx(task, **kw):
    base = dict(
        task=task,
        rng=random.Random(0),
        train=list(task.splits["train"]),
        pool=list(task.splits["pool"][:80]),
    )
    return OperatorContext(**{**base, **kw})


def make_prompt(
    task_text="Classify the sentiment of the movie review. Answer yes or no.",
    pos="The review praises the film.",
    neg="The review criticises the film.",
    frozen_format=True,
):
    return Prompt(
        sections=(
            Section(TASK, task_text),
            Section(POS, pos),
            Section(NEG, neg),
            Section(FORMAT, "Answer with one word.", frozen=frozen_format),
        )
    )


def cand(cid, prompt, score, per_label=None):
    return Candidate(cid, prompt.to_dict(), train_score=score, per_label=per_label or {})


def texts(prompt):
    return {s.name: s.text for s in prompt.sections}


def demo_lines(prompt):
    return [line for line in prompt.section(EXAMPLES).text.splitlines() if line.strip()]


# --- Few-Shot ---------------------------------------------------------------------------


def test_balanced_gives_equal_counts_per_label(task):
    ctx = make_ctx(task, n_shots=6)
    picked = select_balanced(ctx.pool, 6, ctx.rng, ctx)
    assert len(picked) == 6
    assert Counter(ex.target for ex in picked) == {"negative": 3, "positive": 3}


async def test_few_shot_uses_pool_verbalizers_and_places_demos_last(task):
    ctx = make_ctx(task)
    prompt = make_prompt()
    res = await FewShot().apply(prompt, TASK, ctx)
    assert len(res.prompts) >= 3
    pool_demos = {render_demo(task, ex) for ex in ctx.pool}
    train_demos = {render_demo(task, ex) for ex in ctx.train}
    for p in res.prompts:
        names = [s.name for s in p.sections]
        assert names == [TASK, POS, NEG, FORMAT, EXAMPLES]
        lines = demo_lines(p)
        assert len(lines) == ctx.n_shots
        assert all(line.startswith("Input : ") for line in lines)
        assert all(line.endswith(("Output: yes", "Output: no")) for line in lines)
        assert set(lines) <= pool_demos and not set(lines) & train_demos
    balanced = [
        p
        for p in res.prompts
        if Counter(line.rsplit(" ", 1)[1] for line in demo_lines(p)) == {"yes": 2, "no": 2}
    ]
    assert balanced
    assert len({frozenset(demo_lines(p)) for p in res.prompts}) == len(res.prompts)


async def test_few_shot_results_differ_from_current_section(task):
    first = await FewShot().apply(make_prompt(), TASK, make_ctx(task))
    current = first.prompts[0]
    again = await FewShot().apply(current, EXAMPLES, make_ctx(task))
    assert again.prompts
    for p in again.prompts:
        assert set(demo_lines(p)) != set(demo_lines(current))
        assert [s.name for s in p.sections] == [s.name for s in current.sections]


async def test_few_shot_falls_back_to_train_when_pool_empty(task):
    ctx = make_ctx(task, pool=[])
    res = await FewShot().apply(make_prompt(), TASK, ctx)
    train_demos = {render_demo(task, ex) for ex in ctx.train}
    assert res.prompts and all(set(demo_lines(p)) <= train_demos for p in res.prompts)


async def test_few_shot_skips_long_demos(task):
    long = Example("long", "word " * 80, "positive")
    ctx = make_ctx(task, pool=[long, *task.splits["pool"][:20]])
    assert len(render_demo(task, long)) > MAX_DEMO_CHARS
    res = await FewShot().apply(make_prompt(), TASK, ctx)
    assert res.prompts
    assert all(len(line) <= MAX_DEMO_CHARS for p in res.prompts for line in demo_lines(p))


def test_hard_picks_examples_sharing_words_with_bad_cases(task):
    near = [
        Example("near-1", "dreadful , boring acting", "negative"),
        Example("near-2", "the acting is boring and the plot dreadful", "negative"),
    ]
    ctx = make_ctx(task, pool=[*task.splits["pool"][:40], *near])
    bad = task.splits["train"][0]
    ctx.bad_cases = [BadCase(bad, "boring acting and a dreadful plot", "positive", "negative")]
    picked = select_hard(ctx.pool, 2, ctx.rng, ctx)
    assert {ex.id for ex in picked} == {"near-1", "near-2"}


def test_hard_uses_bad_cases_found_in_the_pool_directly(task):
    ctx = make_ctx(task)
    bad = ctx.pool[17]
    ctx.bad_cases = [BadCase(bad, task.format_input(bad), "positive", bad.target)]
    picked = select_hard(ctx.pool, 4, ctx.rng, ctx)
    assert picked[0] == bad and len(picked) == 4
    assert select_hard(ctx.pool, 4, ctx.rng, make_ctx(task)) == []


def test_diverse_differs_from_random_and_spreads_out(task):
    ctx = make_ctx(task)
    rand = select_random(ctx.pool, 4, random.Random(1), ctx)
    div = select_diverse(ctx.pool, 4, random.Random(1), ctx)
    assert {ex.id for ex in div} != {ex.id for ex in rand}

    def min_dist(exs):
        toks = [tokens(task.format_input(ex)) for ex in exs]
        return min(1 - jaccard(a, b) for a, b in combinations(toks, 2))

    assert min_dist(div) >= min_dist(rand)


# --- Define Sort, Repeat Instructions, Merge --------------------------------------------


async def test_define_sort_reorders_and_keeps_frozen_positions(task):
    prompt = Prompt(
        sections=(Section("intro", "You are a critic.", frozen=True), *make_prompt().sections)
    )
    res = await DefineSort().apply(prompt, POS, make_ctx(task))
    orders = [[s.name for s in p.sections] for p in res.prompts]
    assert orders == [["intro", TASK, NEG, POS, FORMAT], ["intro", POS, TASK, NEG, FORMAT]]
    # the last movable slot already holds NEG: moving it to the end changes nothing
    res = await DefineSort().apply(prompt, NEG, make_ctx(task))
    orders = [[s.name for s in p.sections] for p in res.prompts]
    assert orders == [["intro", NEG, TASK, POS, FORMAT]]
    assert res.rejected == ["order unchanged"]


async def test_repeat_instructions_restates_first_sentence_and_replaces(task):
    ctx = make_ctx(task)
    res = await RepeatInstructions().apply(make_prompt(), EXAMPLES, ctx)
    (p,) = res.prompts
    reminder = "Remember: Classify the sentiment of the movie review."
    assert p.sections[-1] == Section(REMINDER, reminder)
    res2 = await RepeatInstructions().apply(p, NEG, ctx)
    (p2,) = res2.prompts
    assert [s.name for s in p2.sections].count(REMINDER) == 1
    assert p2.sections[-1].text == "Remember: The review criticises the film."
    long = make_prompt(task_text="Decide " + "very " * 80 + "carefully. Then answer.")
    (p3,) = (await RepeatInstructions().apply(long, TASK, ctx)).prompts
    assert len(p3.section(REMINDER).text) <= len("Remember: ") + 205


async def test_merge_takes_label_sections_from_best_f1(task):
    a = make_prompt(task_text="Task A.", pos="Pos A.", neg="Neg A.")
    b = make_prompt(task_text="Task B.", pos="Pos B.", neg="Neg B.")
    c = make_prompt(task_text="Task C.", pos="Pos C.", neg="Neg C.")
    beam = [
        cand("b", b, 0.7, {"positive": {"f1": 0.6}, "negative": {"f1": 0.9}}),
        cand("a", a, 0.8, {"positive": {"f1": 0.8}, "negative": {"f1": 0.5}}),
        cand("c", c, 0.6, {"positive": {"f1": 0.7}, "negative": {"f1": 0.4}}),
    ]
    res = await Merge().apply(a, TASK, make_ctx(task, beam=beam))
    (merged,) = res.prompts
    assert texts(merged) == {
        TASK: "Task A.",
        POS: "Pos A.",
        NEG: "Neg B.",
        FORMAT: "Answer with one word.",
    }
    assert merged.section(FORMAT).frozen


async def test_merge_rejects_when_nothing_to_merge(task):
    a = make_prompt(task_text="Task A.")
    res = await Merge().apply(a, TASK, make_ctx(task, beam=[cand("a", a, 0.8)]))
    assert res.failed and res.rejected == ["needs two scored prompts"]
    b = make_prompt(task_text="Task B.")
    beam = [cand("a", a, 0.8), cand("b", b, 0.5)]
    res = await Merge().apply(a, TASK, make_ctx(task, beam=beam))
    assert res.failed and res.rejected


# --- Differential Evolution --------------------------------------------------------------


def de_beam():
    p = make_prompt(task_text="Task P.", pos="Pos P.", neg="Neg P.")
    b = make_prompt(task_text="Task B.", pos="Pos same.", neg="Neg B.")
    c = make_prompt(task_text="Task C.", pos="Pos same.", neg="Neg C.")
    return p, b, [cand("p", p, 0.9), cand("b", b, 0.7), cand("c", c, 0.6)]


async def test_de_crossover_only_touches_differing_sections(task):
    p, b, beam = de_beam()
    assert differing_sections(b, Prompt.from_dict(beam[2].prompt)) == [TASK, NEG]
    for seed in range(10):
        res = await DifferentialEvolution().apply(
            p, TASK, make_ctx(task, beam=beam, rng=random.Random(seed))
        )
        (child,) = res.prompts
        assert res.llm_calls == 0
        changed = {n for n, t in texts(child).items() if t != texts(p)[n]}
        assert changed and changed <= {TASK, NEG}
        assert all(texts(child)[n] == texts(b)[n] for n in changed)


async def test_de_with_llm_adds_a_second_candidate(task):
    p, _, beam = de_beam()
    llm = FakeListChatModel(responses=["Here is the new text:\nDecide if the review is positive."])
    res = await DifferentialEvolution().apply(p, TASK, make_ctx(task, beam=beam, llm=llm))
    assert res.llm_calls == 1 and len(res.prompts) == 2
    assert res.prompts[1].section(TASK).text == "Decide if the review is positive."
    assert texts(res.prompts[1])[NEG] == "Neg P."


async def test_de_keeps_the_fenced_answer_not_the_lm_commentary_around_it(task):
    p, _, beam = de_beam()
    # the embedded operator LM's answer in a make run (2026-12-02), which became a label
    # section verbatim before DE cleaned its answers the way the other LLM operators do
    said = ("The current version has a bug:\n\n```\nDecide if the review is positive.\n```"
            "\n\nThe new version should have a bug:\n\n```\nSay yes.\n```\n\n"
            "This bug is caused by a bug in the pattern.")
    res = await DifferentialEvolution().apply(
        p, TASK, make_ctx(task, beam=beam, llm=FakeListChatModel(responses=[said])))
    assert res.prompts[1].section(TASK).text == "Decide if the review is positive."
    assert all("```" not in s.text for q in res.prompts for s in q.sections)


async def test_de_rejects_llm_output_with_template_slot(task):
    p, _, beam = de_beam()
    llm = FakeListChatModel(responses=["Classify {text} now."])
    res = await DifferentialEvolution().apply(p, TASK, make_ctx(task, beam=beam, llm=llm))
    assert len(res.prompts) == 1 and res.llm_calls == 1
    assert any("template slot" in r for r in res.rejected)


async def test_de_falls_back_to_one_other_prompt(task):
    p, b, beam = de_beam()
    res = await DifferentialEvolution().apply(p, TASK, make_ctx(task, beam=beam[:2]))
    (child,) = res.prompts
    changed = {n for n, t in texts(child).items() if t != texts(p)[n]}
    assert changed and all(texts(child)[n] == texts(b)[n] for n in changed)


# --- RAG ---------------------------------------------------------------------------------


async def test_rag_substitutes_best_scoring_other_text(task):
    cur = make_prompt(task_text="Is the review positive?")
    history = [
        cand("cur", cur, 0.95),
        cand("low", make_prompt(task_text="Say yes or no."), 0.4),
        cand("top", make_prompt(task_text="Judge the review's sentiment."), 0.8),
        cand("mid", make_prompt(task_text="Is the movie review positive or negative?"), 0.6),
        cand("new", make_prompt(task_text="Never scored."), None),
    ]
    res = await RAG().apply(cur, TASK, make_ctx(task, history=history))
    assert [p.section(TASK).text for p in res.prompts] == [
        "Judge the review's sentiment.",
        "Is the movie review positive or negative?",
    ]
    assert all(texts(p)[NEG] == texts(cur)[NEG] for p in res.prompts)


async def test_rag_prefers_memory_retrieval(task):
    cur = make_prompt()

    def retrieve(query, k):
        assert query == cur.section(NEG).text
        return [
            (cur.section(NEG).text, 0.99),
            ("Bad {text}", 0.9),
            ("The critic dislikes it.", 0.7),
        ]

    res = await RAG().apply(cur, NEG, make_ctx(task, retrieve=retrieve))
    assert [p.section(NEG).text for p in res.prompts] == ["The critic dislikes it."]
    assert any("template slot" in r for r in res.rejected)


# --- Every operator ---------------------------------------------------------------------


@pytest.mark.parametrize("op_cls", ALL_OPERATORS, ids=lambda c: c.name)
async def test_every_operator_rejects_empty_input(task, op_cls):
    assert REGISTRY[op_cls.name] is op_cls and op_cls.description
    empty = OperatorContext(task=task, rng=random.Random(0))
    op: Operator = op_cls()
    res = await op.apply(Prompt(), TASK, empty)
    assert res.failed and res.rejected
    if op_cls not in (DefineSort, RepeatInstructions):
        res = await op.apply(make_prompt(), TASK, empty)
        assert res.failed and res.rejected


@pytest.mark.parametrize("section", [TASK, POS, EXAMPLES])
@pytest.mark.parametrize("op_cls", ALL_OPERATORS, ids=lambda c: c.name)
async def test_no_operator_edits_a_frozen_section(task, op_cls, section):
    def frozen_prompt(tag):
        return Prompt(
            sections=(
                Section(TASK, f"Classify the review {tag}.", frozen=True),
                Section(POS, f"Praise {tag}."),
                Section(NEG, f"Criticism {tag}."),
                Section(EXAMPLES, "Input : fine Output: yes", frozen=True),
                Section(FORMAT, f"One word {tag}.", frozen=True),
            )
        )

    prompt = frozen_prompt("p")
    others = [
        replace(
            frozen_prompt(t),
            sections=tuple(replace(s, frozen=False) for s in frozen_prompt(t).sections),
        )
        for t in "bc"
    ]
    beam = [
        cand("p", prompt, 0.8),
        cand("b", others[0], 0.7, {"negative": {"f1": 1.0}}),
        cand("c", others[1], 0.6),
    ]
    llm = FakeListChatModel(responses=["A brand new instruction for this part."])
    ctx = make_ctx(
        task, beam=beam, history=beam, llm=llm, retrieve=lambda q, k: [("Retrieved text.", 1.0)]
    )
    res = await op_cls().apply(prompt, section, ctx)
    frozen = [(i, s) for i, s in enumerate(prompt.sections) if s.frozen]
    for p in res.prompts:
        for i, s in frozen:
            assert p.sections[i] == s
    if op_cls is FewShot or (op_cls in (DefineSort, RAG) and prompt.section(section).frozen):
        assert res.failed and any("frozen" in r for r in res.rejected)
    if op_cls in (Merge, DifferentialEvolution, RepeatInstructions):
        assert res.prompts  # the unfrozen sections still change


def test_a_bare_frame_renders_demos_with_the_default_markers():
    from flowpo.programs import PROGRAM_TEMPLATE

    plural = Task("words", "generation", "exact_match", template=PROGRAM_TEMPLATE)
    assert render_demo(plural, Example("e", "cat", "cats")) == "Input : cat Output: cats"


async def test_the_frame_operator_proposes_frames_the_run_has_not_scored_first(task):
    from flowpo.operators.framing import FRAMES, Frame

    start = make_prompt()
    scored = [replace(start, template=f) for f in FRAMES[2:]]
    history = [cand(f"c{i}", p, 0.5) for i, p in enumerate(scored)]
    for seed in range(5):
        ctx = make_ctx(task, rng=random.Random(seed), history=history)
        res = await Frame().apply(start, "frame", ctx)
        assert {p.template for p in res.prompts} == set(FRAMES[:2])
    # Once every library frame was scored, frames are proposed again (still two of them).
    everything = [cand(f"d{i}", replace(start, template=f), 0.5) for i, f in enumerate(FRAMES)]
    res = await Frame().apply(start, "frame", make_ctx(task, history=everything))
    assert len(res.prompts) == 2 and all(p.template in FRAMES for p in res.prompts)
