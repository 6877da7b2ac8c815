"""Property-based tests (hypothesis): task-file loader, Markdown prompts, operator output."""

from __future__ import annotations

import csv
import io
import json
import random
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpo.errors import DataError, FlowpoError
from flowpo.operators.base import (
    TEXT_SLOT,
    OperatorContext,
    OperatorResult,
    extract_text,
)
from flowpo.operators.llm import add_drafts, clean
from flowpo.prompt import Prompt, Section
from flowpo.tasks.files import task_from_file
from flowpo.tasks.task import Task

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Any Unicode text a file can hold (no surrogates), with the characters that break naive
# parsers drawn often: line and paragraph separators, quotes, delimiters, headers, fences.
SPECIAL = [
    "#",
    "# ",
    "\n",
    "\r\n",
    "\u2028",
    "\x85",
    "\x0c",
    "\\",
    "---",
    '"',
    ",",
    "\t",
    "{",
    "}",
    "```",
    "\ufeff",
    " ",
]
CHARS = st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_categories=["Cs"]))
TEXT = st.lists(CHARS, min_size=1, max_size=30).map("".join)
LABELS = ["neg", "pos", "neutral"]


def _nonblank(s: str) -> bool:
    return bool(s.strip())


@st.composite
def datasets(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    inputs = draw(st.lists(TEXT.filter(_nonblank), min_size=n, max_size=n))
    targets = draw(st.lists(st.sampled_from(LABELS), min_size=n, max_size=n))
    with_ids = draw(st.booleans())
    return inputs, targets, with_ids


def _write(tmp: Path, kind: str, inputs, targets, with_ids) -> Path:
    rows = [
        {**({"id": f"x{i}"} if with_ids else {}), "input": x, "target": t, "split": "train"}
        for i, (x, t) in enumerate(zip(inputs, targets, strict=True))
    ]
    if kind == "jsonl":
        path = tmp / "data.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    else:
        path = tmp / "data.csv"
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


@SETTINGS
@given(data=datasets(), kind=st.sampled_from(["jsonl", "csv"]), limit=st.sampled_from([5, 10_000]))
def test_loader_keeps_every_example_exactly(tmp_path, data, kind, limit):
    inputs, targets, with_ids = data
    path = _write(tmp_path, kind, inputs, targets, with_ids)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = task_from_file(path, labels=LABELS, max_input_chars=limit)
    train = task.split("train")
    assert [e.input for e in train] == [x[:limit] for x in inputs]
    assert [e.target for e in train] == targets
    assert len({e.id for e in train}) == len(train)
    cut = sum(len(x) > limit for x in inputs)
    assert any("were cut" in str(w.message) for w in caught) == (cut > 0)


@SETTINGS
@given(raw=st.binary(max_size=400), kind=st.sampled_from(["jsonl", "csv", "tsv"]))
def test_loader_on_arbitrary_bytes_raises_only_data_errors(tmp_path, raw, kind):
    path = tmp_path / f"junk.{kind}"
    path.write_bytes(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            task = task_from_file(path)
        except DataError as e:
            assert e.where and str(path) in e.where and e.fix  # what, where and the fix
        else:
            assert sum(len(task.split(s)) for s in ("train", "dev", "test", "pool")) >= 1


NAME = (
    st.text(st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), min_size=1, max_size=20)
    .map(str.strip)
    .filter(lambda s: s and not s.lower().endswith("(frozen)"))
)
LINE = st.lists(CHARS, max_size=20).map("".join)
# Section text: lines, some of which look like Markdown headers or escaped headers.
BODY = (
    st.lists(
        st.one_of(
            LINE, st.builds(lambda h, t: h + t, st.sampled_from(["# ", "## ", "\\# ", "#"]), LINE)
        ),
        min_size=1,
        max_size=4,
    )
    .map(lambda lines: "\n".join(lines).replace("\r", "\n").strip())
    .filter(bool)
)
PROMPTS = st.builds(
    lambda secs, template, words, calibrate: Prompt(
        tuple(Section(n, t, f) for n, (t, f) in secs.items()), template, words, calibrate
    ),
    st.dictionaries(NAME, st.tuples(BODY, st.booleans()), min_size=1, max_size=5),
    st.one_of(
        st.none(),
        st.builds(
            lambda a, b: f"{a}{{text}}{b}", st.text(max_size=20), st.text(max_size=20)
        ).filter(lambda t: "{text}" not in t.replace("{text}", "", 1) and "{prompt}" not in t),
    ),
    st.one_of(st.none(), st.dictionaries(NAME, NAME, min_size=1, max_size=3)),
    st.booleans(),
)


@SETTINGS
@given(prompt=PROMPTS)
def test_markdown_round_trip(prompt):
    back = Prompt.from_markdown(prompt.to_markdown())
    assert back == prompt
    assert back.fingerprint("{prompt} {text}") == prompt.fingerprint("{prompt} {text}")


@SETTINGS
@given(text=st.lists(CHARS, max_size=120).map("".join))
def test_markdown_parser_never_fails_on_text_except_with_a_clear_error(text):
    try:
        prompt = Prompt.from_markdown(text, where="p.md")
    except FlowpoError as e:
        assert e.where and e.where.startswith("p.md") and e.fix
    else:
        assert all(s.text == s.text.strip() and s.text for s in prompt.sections)
        assert len({s.name for s in prompt.sections}) == len(prompt.sections)


def _ctx(max_chars: int) -> OperatorContext:
    task = Task("t", "classification", "accuracy", ("a", "b"), {"a": "a", "b": "b"})
    return OperatorContext(task=task, rng=random.Random(0), max_section_chars=max_chars)


BASE = Prompt(
    (
        Section("task", "Decide the label."),
        Section("format", "Answer a or b.", frozen=True),
        Section("steps", "Think first."),
    )
)
OUTPUT = st.one_of(
    st.text(max_size=400),
    st.builds(
        lambda a, b: f"Sure, here is the new section:\n```\n{a}\n```\n{b}",
        st.text(max_size=80),
        st.text(max_size=40),
    ),
    st.builds(lambda a: f"{a} {TEXT_SLOT} {a}", st.text(max_size=40)),
    st.builds(lambda a: f'<data name="section">\n{a}\n</data>', st.text(max_size=80)),
)


@SETTINGS
@given(
    raws=st.lists(OUTPUT, min_size=1, max_size=4),
    section=st.sampled_from(["task", "steps", "format", "new"]),
    max_chars=st.sampled_from([50, 1500]),
)
def test_operator_output_never_corrupts_a_prompt(raws, section, max_chars):
    ctx = _ctx(max_chars)
    result = OperatorResult()
    add_drafts(BASE, section, raws, ctx, result)
    assert len(result.prompts) + len(result.rejected) == len(raws)  # every draft accounted for
    for p in result.prompts:
        new = p.section(section).text
        assert new and new == new.strip() and len(new) <= max_chars
        assert TEXT_SLOT not in new and "{prompt}" not in new and "</data" not in new.lower()
        assert "\ufffd" not in new
        assert section != "format"  # a frozen section is never edited
        for s in BASE.sections:  # every other section is byte-identical
            if s.name != section:
                assert p.section(s.name) == s


@SETTINGS
@given(body=st.text(max_size=200).map(str.strip).filter(lambda s: s and "`" not in s))
def test_extractor_unwraps_fences_and_chatter(body):
    plain = extract_text(body)
    assert clean(f"```\n{body}\n```") == plain
    assert clean(f"Here is the improved section:\n```text\n{body}\n```") == plain
    assert isinstance(clean(body), str) and len(clean(body)) <= len(body)
