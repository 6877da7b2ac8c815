"""User data files as tasks: inference, splits, and errors that name file, line and fix."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flowpo.errors import DataError, FlowpoError
from flowpo.tasks import task_from_file
from flowpo.tasks.splits import SplitWarning, halve, seeded_split


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def reviews(n: int = 60) -> list[dict[str, Any]]:
    return [
        {"input": f"review {i}", "target": "positive" if i % 3 else "negative"}
        for i in range(n * 3)
    ]


def test_jsonl_classification_is_inferred_and_split(tmp_path: Path) -> None:
    task = task_from_file(jsonl(tmp_path / "rev.jsonl", reviews()))
    assert task.name == "rev" and task.kind == "classification" and task.metric == "accuracy"
    assert task.labels == ("negative", "positive")  # first-seen order
    assert task.verbalizers == {"negative": "negative", "positive": "positive"}
    for split in ("train", "dev"):
        assert Counter(e.target for e in task.splits[split]) == {"negative": 16, "positive": 16}
    assert task.sizes() == {"train": 32, "dev": 32, "test": 180 - 64, "pool": 0}
    ids = [e.id for s in task.splits.values() for e in s]
    assert len(set(ids)) == 180 and "line-1" in ids
    again = task_from_file(tmp_path / "rev.jsonl")
    assert again.splits == task.splits
    other = task_from_file(tmp_path / "rev.jsonl", seed=1)
    assert other.splits["train"] != task.splits["train"]


def test_csv_pair_input_labels_and_verbalizers(tmp_path: Path) -> None:
    lines = ["premise,hypothesis,label"] + [f'"p {i}, quoted",h {i},{i % 2}' for i in range(120)]
    path = tmp_path / "nli.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    task = task_from_file(
        path,
        input_field="premise,hypothesis",
        target_field="label",
        labels="0,1",
        verbalizers=["No", "Yes"],
    )
    assert task.input_format == "pair" and task.verbalizers == {"0": "No", "1": "Yes"}
    ex = task.splits["test"][0]
    n = ex.input["hypothesis"].split()[1]
    assert task.format_input(ex) == f"premise : p {n}, quoted\n hypothesis : h {n}"
    assert ex.target == str(int(n) % 2) and ex.id == f"line-{int(n) + 2}"
    assert ex.input["premise"].endswith(", quoted")


def test_generation_file_with_split_column(tmp_path: Path) -> None:
    rows = [
        {"q": f"{i}+1", "a": [str(i + 1), f"{i + 1}.0"], "split": s}
        for i, s in enumerate(["train"] * 5 + ["dev"] * 3 + ["test"] * 4 + ["pool"] * 2)
    ]
    task = task_from_file(
        jsonl(tmp_path / "add.jsonl", rows),
        input_field="q",
        target_field="a",
        template="{prompt}\nQ: {text}\nA:",
    )
    assert task.kind == "generation" and task.metric == "exact_match"
    assert task.sizes() == {"train": 5, "dev": 3, "test": 4, "pool": 2}
    assert task.splits["train"][0].answers() == ("1", "1.0")


def test_small_generation_file_warns_and_halves(tmp_path: Path) -> None:
    rows = [{"input": f"w{i}", "target": f"t{i}"} for i in range(40)]
    with pytest.warns(SplitWarning, match="only 40 examples.*8/8/rest"):
        task = task_from_file(jsonl(tmp_path / "small.jsonl", rows))
    assert task.kind == "generation"
    assert task.sizes() == {"train": 8, "dev": 8, "test": 24, "pool": 0}


def test_split_helpers_are_seeded_and_stratified() -> None:
    items = [(i, "ab"[i % 3 == 0]) for i in range(90)]
    train, dev, rest = seeded_split(items, [5, 5], seed=3, key=lambda x: x[1])
    assert Counter(x[1] for x in train) == Counter(x[1] for x in dev) == {"a": 5, "b": 5}
    assert sorted(train + dev + rest) == items and train == sorted(train)
    assert seeded_split(items, [5, 5], seed=3, key=lambda x: x[1])[0] == train
    first, second = halve(items[:31], seed=0, key=lambda x: x[1])
    assert (len(first), len(second)) == (16, 15) and not set(first) & set(second)


def expect(path: Path, *fragments: str, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as info:
        task_from_file(path, **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    assert "Fix:" in str(info.value)
    return info.value


def test_missing_and_empty_files(tmp_path: Path) -> None:
    expect(tmp_path / "nope.jsonl", "nope.jsonl", "does not exist")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    expect(tmp_path / "empty.jsonl", "empty.jsonl", "no examples")
    (tmp_path / "header.csv").write_text("input,target\n")
    expect(tmp_path / "header.csv", "no examples")
    (tmp_path / "data.txt").write_text("x")
    expect(tmp_path / "data.txt", "unknown data file type", ".jsonl")


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"input,target\ngood,a\ncaf\xe9,b\n")
    expect(path, "latin.csv:3", "line 3 is not valid UTF-8", "iconv")


def test_malformed_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input": "a", "target": "x"}\n{"input": "b", "target": }\n')
    err = expect(path, "bad.jsonl:2", "line 2 is not valid JSON", "Expecting value")
    assert err.where == f"{path}:2"
    path.write_text('{"input": "a", "target": "x"}\n["a", "x"]\n')
    expect(path, "line 2 holds a JSON list")


def test_missing_fields_list_the_fields_present(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "f.jsonl", [{"input": "a", "target": "x"}, {"text": "b", "label": "y"}])
    expect(path, "f.jsonl:2", "no value for 'input'", "'text', 'label'", "--input-field")
    expect(
        path,
        "f.jsonl:1",
        "no value for 'label'",
        "'input', 'target'",
        "--target-field",
        target_field="label",
    )
    expect(path, "f.jsonl:1", "no value for 'text'", "--input-field", input_field="input,text")
    csv_path = tmp_path / "f.csv"
    csv_path.write_text("text,label\nhello,x\n,y\n")
    expect(csv_path, "f.csv:3", "'text'", input_field="text", target_field="label")
    csv_path.write_text("text,label\nhello,x,extra\n")
    expect(csv_path, "f.csv:2", "more values than the header")


def test_label_outside_the_label_set(tmp_path: Path) -> None:
    rows = reviews(20) + [{"input": "odd", "target": "neutral"}]
    err = expect(
        jsonl(tmp_path / "l.jsonl", rows), "l.jsonl:61", "'neutral'", labels="negative,positive"
    )
    assert err.field == "target"


def test_duplicate_ids(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "input": "x", "target": "1"},
        {"id": "b", "input": "y", "target": "2"},
        {"id": "a", "input": "z", "target": "3"},
    ]
    err = expect(jsonl(tmp_path / "ids.jsonl", rows), "ids.jsonl:3", "'a'", "line 1")
    assert err.field == "id"


def test_verbalizer_count_mismatch(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "v.jsonl", reviews())
    err = expect(path, "2 labels", "3 verbalizers", verbalizers="bad,good,meh")
    assert err.field == "verbalizers"
    expect(path, "no labels", verbalizers="a", metric="exact_match")


def test_bad_split_value(tmp_path: Path) -> None:
    rows = [
        {"input": "a", "target": "x", "split": "train"},
        {"input": "b", "target": "y", "split": "validation"},
    ]
    expect(jsonl(tmp_path / "s.jsonl", rows), "s.jsonl:2", "'validation'", "train, dev")


def test_template_without_text_slot(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "t.jsonl", reviews())
    with pytest.raises(FlowpoError, match=r"\{text\}"):
        task_from_file(path, template="{prompt} Output:")
