"""flowpo.Dataset: splits with the user's field names, from lists or a file, into optimize."""

import doctest
import json

import pytest
from fakes import Recorder
from graph_fakes import TINY, fake_models  # noqa: F401

import flowpo
import flowpo.dataset
from flowpo import Dataset
from flowpo.graphs import resources as res_mod

TRAIN = [
    {"review": f"{w} film {i}", "label": lab}
    for i, (w, lab) in enumerate(
        [("good", "positive"), ("bad", "negative"), ("good", "positive"), ("bad", "negative")]
    )
]
DEV = [
    {"review": "good film 9", "label": "positive"},
    {"review": "bad film 9", "label": "negative"},
]


def test_a_dataset_keeps_its_splits_and_fields():
    ds = Dataset(train=TRAIN, dev=DEV, input_field="review", target_field="label")
    assert ds.sizes() == {"train": 4, "dev": 2}
    assert ds.rows()[-1] == {"review": "bad film 9", "label": "negative", "split": "dev"}
    assert ds.data_options() == {
        "input_field": "review",
        "target_field": "label",
        "split_field": "split",
    }
    two = Dataset(
        train=[{"q": "a", "c": "b", "t": "x"}],
        dev=[{"q": "a", "c": "b", "t": "y"}],
        input_field=["q", "c"],
        target_field="t",
    )
    assert two.input_fields == ("q", "c") and two.data_options()["input_field"] == "q,c"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"train": TRAIN}, "dev", "no dev split"),
        ({"dev": DEV}, "train", "no train split"),
        ({"train": TRAIN, "dev": []}, "dev", "dev split is empty"),
        ({"train": TRAIN, "dev": DEV, "test": []}, "test", "leave test out"),
        ({"train": "good film", "dev": DEV}, "train", "not a list"),
        ({"train": [*TRAIN, "bad"], "dev": DEV}, "train[4]", "not a dict"),
        ({"train": TRAIN, "dev": [{"review": "x"}]}, "dev[0].label", "target_field="),
        ({"train": [{"text": "x", "label": "y"}], "dev": DEV}, "train[0].review", "'text'"),
    ],
)
def test_bad_datasets_name_the_field_and_the_fix(kwargs, field, words):
    with pytest.raises(flowpo.DataError, match=words) as err:
        Dataset(**kwargs, input_field="review", target_field="label")
    assert err.value.field == field and err.value.fix


def test_a_split_field_may_not_be_an_input():
    with pytest.raises(flowpo.DataError, match="split") as err:
        Dataset(train=TRAIN, dev=DEV, input_field="split")
    assert err.value.field == "input_field"


def test_from_rows_and_from_file(tmp_path):
    rows = [{**r, "part": "train"} for r in TRAIN] + [{**r, "part": "DEV"} for r in DEV]
    ds = Dataset.from_rows(rows, split_field="part", input_field="review", target_field="label")
    assert ds.sizes() == {"train": 4, "dev": 2} and "part" not in ds.rows()[0]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    same = Dataset.from_file(path, split_field="part", input_field="review", target_field="label")
    assert same.rows() == ds.rows()
    with pytest.raises(flowpo.DataError, match="line 1 has no known split") as err:
        Dataset.from_file(path, input_field="review", target_field="label")
    assert err.value.field == "split" and "task=" in err.value.fix
    with pytest.raises(flowpo.DataError, match="names the split 'valid'") as err:
        Dataset.from_rows([{**TRAIN[0], "split": "valid"}])
    assert err.value.field == "examples[0].split"


@pytest.fixture
def operator_lm(fake_models, monkeypatch):  # noqa: F811
    rec = Recorder(script=["It missed the word bad."])
    monkeypatch.setattr(res_mod, "_operator_llm", lambda config: rec)
    return rec


@pytest.mark.usefixtures("operator_lm")
@pytest.mark.parametrize("key", ["dataset", "examples"])
def test_optimize_takes_a_dataset(tmp_path, key):
    ds = Dataset(train=TRAIN, dev=DEV, test=DEV, input_field="review", target_field="label")
    run = tmp_path / key
    result = flowpo.optimize(**{key: ds}, run_dir=run, **TINY)
    assert result["initial"]["train"] == 0.5 and result["final"]["train"] == 1.0
    saved = (run / "config.yaml").read_text()
    assert "input_field: review" in saved and "target_field: label" in saved
    lines = [json.loads(x) for x in (run / "examples.jsonl").read_text().splitlines()]
    assert [x["split"] for x in lines] == ["train"] * 4 + ["dev"] * 2 + ["test"] * 2


def test_optimize_refuses_a_dataset_with_other_fields_or_examples(tmp_path):
    ds = Dataset(train=TRAIN, dev=DEV, input_field="review", target_field="label")
    with pytest.raises(flowpo.ConfigError, match="not both") as err:
        flowpo.optimize(dataset=ds, examples=TRAIN, run_dir=tmp_path / "a", **TINY)
    assert err.value.field == "dataset"
    with pytest.raises(flowpo.ConfigError, match="dataset's is 'review'") as err:
        flowpo.optimize(dataset=ds, input_field="text", run_dir=tmp_path / "b", **TINY)
    assert err.value.field == "input_field"
    with pytest.raises(flowpo.ConfigError, match="not a flowpo.Dataset"):
        flowpo.optimize(dataset=TRAIN, run_dir=tmp_path / "c", **TINY)


def test_inline_examples_use_the_given_field_names(tmp_path):
    with pytest.raises(flowpo.DataError, match="no 'label'; its fields are 'review'") as err:
        flowpo.optimize(
            examples=[{"review": "x", "split": "train"}],
            input_field="review",
            target_field="label",
            run_dir=tmp_path / "r",
            **TINY,
        )
    assert err.value.field == "examples[0].label"


def test_the_dataset_docstring_example_runs():
    failed, attempted = doctest.testmod(flowpo.dataset)
    assert attempted and failed == 0
