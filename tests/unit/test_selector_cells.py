"""The selector draws only valid cells, runs the drawn cell and credits it (no redirect)."""

import json

import pytest
from graph_fakes import fake_models, write_examples  # noqa: F401

from flowpo.operators.actions import run_offers, valid_cells
from flowpo.run.runner import optimize
from flowpo.search.policy import QTable

OPERATORS = "few_shot,frame,label_words,calibrate,merge,repeat_instructions,define_sort,cot"


def _run(tmp_path, **extra):
    data = write_examples(tmp_path / "reviews.jsonl")
    return optimize(
        task=str(data), run_dir=str(tmp_path / "run"), max_epochs=4, actions_per_epoch=4,
        operators=OPERATORS, edit_format=True, reflect_cases=0, evaluate_test=False,
        use_memory=False, seed=3, epsilon=0.5, **extra,
    )


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.mark.usefixtures("fake_models")
def test_every_drawn_action_is_a_valid_cell_and_its_own_cell_is_credited(tmp_path):
    _run(tmp_path, optimizer="msgd")
    rows = [r for r in _rows(tmp_path / "run") if not r.get("summary")]
    table = QTable.from_dict(rows[1]["q"])
    have = run_offers(
        rows=table.sections, classification=True, mode="verbalizer", label_scores=True,
        llm=True, demonstrations=True, memory=False, reflection=False,
    )
    cells = set(valid_cells(table.sections, table.operators, have))
    assert ("steps", "cot") not in cells  # verbalizer mode: no reasoning is read
    drawn = [(a["section"], a["operator"]) for r in rows for a in r["actions"]]
    assert drawn and set(drawn) <= cells
    for before, after in zip(rows[1:], rows[2:], strict=False):
        q0, q1 = QTable.from_dict(before["q"]), QTable.from_dict(after["q"])
        for a in before["actions"]:  # learnt before the next draw, on the drawn cell
            if a["gain"] != 0 and q0.get(a["section"], a["operator"]) > 1e-6:
                assert q1.get(a["section"], a["operator"]) != q0.get(a["section"], a["operator"])
        changed = {
            (s, o)
            for s in q0.sections
            for o in q0.operators
            if s in q1.sections and q1.get(s, o) != q0.get(s, o)
        }
        assert changed <= {(a["section"], a["operator"]) for a in before["actions"]}


@pytest.mark.usefixtures("fake_models")
def test_uniform_selector_keeps_the_prior(tmp_path):
    _run(tmp_path, selector="uniform")
    rows = [r for r in _rows(tmp_path / "run") if not r.get("summary")]
    assert rows[1]["q"] == rows[-1]["q"]
