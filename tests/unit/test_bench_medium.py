"""The medium benchmark's statistics and report (no model, fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.report_medium import report, why_paragraphs  # noqa: E402
from bench.stats import (  # noqa: E402
    best_peer,
    best_rows_at,
    examples_to_reach,
    paired_bootstrap,
    paired_over_seeds,
    returned_history,
)

# ---- paired bootstrap -----------------------------------------------------------------


def test_bootstrap_of_a_constant_difference_is_certain() -> None:
    r = paired_bootstrap([1, 1, 1, 0], [0, 0, 0, 0], resamples=2000)
    # every resample of d = [1,1,1,0] has mean >= 0; it is 0 only when all four draws are
    # the last example: (1/4)^4 = 0.0039
    assert r["diff"] == pytest.approx(0.75)
    assert r["p"] == pytest.approx(0.25**4, abs=0.004)
    assert r["n"] == 4


def test_bootstrap_of_two_opposite_pairs_matches_the_hand_computed_p() -> None:
    # d = [+1, -1]; a resample of two draws has mean +1 (1/4), 0 (1/2), -1 (1/4):
    # P(mean <= 0) = 3/4, and the 95% interval is [-1, +1]
    r = paired_bootstrap([1, 0], [0, 1], resamples=20_000, seed=1)
    assert r["diff"] == 0
    assert r["p"] == pytest.approx(0.75, abs=0.01)
    assert (r["lo"], r["hi"]) == (-1, 1)


def test_bootstrap_refuses_unpaired_lists() -> None:
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap([1, 0], [1])


# ---- sample efficiency and the curve --------------------------------------------------


def test_examples_to_reach_is_the_first_epoch_at_the_target() -> None:
    history = [[32, 0.5], [64, None], [96, 0.625], [128, 0.7], [160, 0.7]]
    assert examples_to_reach(history, 0.6) == 96
    assert examples_to_reach(history, 0.7) == 128
    assert examples_to_reach(history, 0.5) == 32
    assert examples_to_reach(history, 0.71) is None


def test_returned_history_replays_the_final_choice_after_each_candidate() -> None:
    from flowpo.prompt import Prompt

    two = {"neg": {"recall": 0.75, "support": 16}, "pos": {"recall": 0.75, "support": 16}}

    def row(cid: str, train: float, spent: float, **extra: object) -> dict[str, object]:
        prompt = Prompt.from_text(cid, retrieve=4 if cid.startswith("k") else 0)
        return {"id": cid, "prompt": prompt.to_dict(), "train_score": train,
                "train_soft": 0.0, "per_label": two, "spent": spent, **extra}

    rows = [row("c0", 0.5, 32), row("c0w", 0.625, 64), row("k0", 0.75, 96, held_back="x"),
            row("k0w", 0.9, 128, superseded="y"), row("e1-0", 0.9, 136, screened=True),
            row("e1-1", 0.78125, 160)]
    dev = {"c0": 0.5, "c0w": 0.625, "k0": 0.8125, "k0w": 1.0, "e1-0": 1.0, "e1-1": 0.75}
    asked: list[str] = []

    def dev_of(r: dict[str, object]) -> tuple[float, float]:
        asked.append(str(r["id"]))
        return dev[str(r["id"])], 0.0

    # 96: k0 pools (0.75 + 0.8125) / 2 = 0.78125 against c0w's 0.625, more than one standard
    # error (sqrt(0.78125 * 0.21875 / 64) = 0.0517) ahead; 160: e1-1 pools 0.765625, within
    # it, and a fixed prompt is preferred to a retrieving one among ties
    assert returned_history(rows, dev_of, 32, 0.0) == [
        [32, 0.5], [64, 0.625], [96, 0.8125], [160, 0.75]]
    assert asked == ["c0", "c0w", "k0", "e1-1"]  # each finalist's dev scored once
    assert returned_history([{k: v for k, v in rows[0].items() if k != "spent"}], dev_of, 32,
                            0.0) == []  # a run from before ``spent`` was recorded


def test_best_rows_at_reads_the_last_epoch_within_each_budget() -> None:
    rows = [
        {"epoch": 0, "best_id": "c0", "budget": {"examples_scored": 32}},
        {"epoch": 1, "best_id": "c3", "budget": {"examples_scored": 90}},
        {"epoch": 2, "best_id": "c7", "budget": {"examples_scored": 250}},
        {"summary": True, "best_id": "c9"},
    ]
    got = best_rows_at(rows, [16, 64, 128, 256])
    assert got[16] is None
    assert [got[b]["best_id"] for b in (64, 128, 256)] == ["c0", "c3", "c7"]


# ---- the report ------------------------------------------------------------------------


def _cell(task: str, method: str, seed: int, test: float, **kw: object) -> dict:
    base = {"task": task, "method": method, "seed": seed, "budget": 256, "status": "ok",
            "test": test, "test_n": 4, "dev": None, "train_examples": 0}
    return {**base, **kw}


def fake_results() -> dict:
    return {
        "meta": {"command": "python bench/run.py --medium", "machine": "test box",
                 "started": "2026-01-01", "updated": "2026-01-02", "test_limit": 4,
                 "checkpoints": [64, 256], "generation": {"max_new_tokens": 12}},
        "cells": [
            _cell("sst2", "flowpo", 13, 0.75, test_scores=[1, 1, 1, 0], dev=0.8,
                  train_examples=256, history=[[64, 0.6], [128, 0.8], [256, 0.8]],
                  curve=[{"budget": 64, "test": 0.5, "spent": 64, "dev": 0.6},
                         {"budget": 256, "test": 0.75, "spent": 256, "dev": 0.8}],
                  parts={"frame": "{prompt}\nReview: {text}\nSentiment:",
                         "label_words": {"positive": "great"}, "calibrate": True,
                         "sections": ["task"]}),
            _cell("sst2", "ape", 13, 0.5, test_scores=[1, 0, 1, 0], dev=0.7,
                  train_examples=250),
            _cell("sst2", "manual", 13, 0.25, test_scores=[0, 0, 1, 0]),
            {"task": "sst2", "method": "dspy-gepa", "seed": 13, "budget": 256,
             "status": "error", "error": "boom"},
        ],
    }


def test_report_builds_every_table_from_the_json() -> None:
    text = report(fake_results(), ["flowpo", "ape", "manual", "dspy-gepa"], ["sst2", "cr"],
                  ["ape", "manual", "dspy-gepa"], "local:test")
    assert "| flowpo | 0.750 (1 seed) | 0.750 |" in text
    assert "| ape | 250 |" in text  # every cell's spend
    assert "| flowpo | sst2 | 0.500 | 0.750 |" in text  # the curve at 64 and 256
    # significance: flowpo vs ape (the best peer), d = [0, 1, 0, 0]
    assert "| sst2 | 0.750 (1 seed) | ape | 0.500 (1 seed) | +0.250 |" in text
    # sample efficiency: ape's dev 0.7 is reached at 128 examples, more than 250 / 2; the
    # fake run has a per-epoch history only (marked e)
    assert "| sst2 | ape | 0.700 | 250 | 128 e | 0/1 seeds |" in text
    assert "sst2 / dspy-gepa / seed 13: boom" in text
    assert "minus the best peer's (ape): +25.0 points" in text
    assert "more than 5 points below some peer: none" in text
    assert "at most half its budget on most seeds: 0 of 1 (none; goal" in text
    fast = fake_results()
    fast["cells"][0]["history"] = [[64, 0.7], [256, 0.8]]  # reached at 64 <= 250 / 2
    text = report(fast, ["flowpo", "ape"], ["sst2"], ["ape"], "local:test")
    assert "at most half its budget on most seeds: 1 of 1 (sst2; goal" in text
    assert "cr" not in text.split("\n")[2]  # a task with no cell gets no column


def test_why_paragraph_names_the_winning_prompts_parts() -> None:
    lines = why_paragraphs(fake_results(), ["flowpo", "ape", "manual"], ["sst2"])
    text = "\n".join(lines)
    assert "<!-- why:sst2 -->" in text
    assert "**sst2**: flowpo (0.750)" in text
    assert "label words {'positive': 'great'}; calibrated" in text
    assert "Runner-up: ape (0.500)" in text


def test_best_peer_and_pairing_use_only_finished_cells() -> None:
    cells = fake_results()["cells"]
    assert best_peer(cells, "sst2", ["ape", "manual", "dspy-gepa"]) == "ape"
    a, b = paired_over_seeds(cells, "sst2", "flowpo", "manual")
    assert (a, b) == ([1, 1, 1, 0], [0, 0, 1, 0])


# ---- DSPy settings sized to the budget ------------------------------------------------


@pytest.mark.parametrize("n", [32, 64, 96])
def test_dspy_plans_land_within_the_budget(n: int) -> None:
    from bench.dspy_plans import BOOTSTRAP_GUESS, plan

    mipro = plan("dspy-mipro", 256, n, n)
    assert (mipro["num_trials"] + 1) * n + 4 * BOOTSTRAP_GUESS <= 256 or mipro["num_trials"] == 1
    brs = plan("dspy-bootstrap-rs", 256, n, n)
    assert brs["val_size"] <= n
    assert (brs["num_candidate_programs"] + 3) * brs["val_size"] + 2 * BOOTSTRAP_GUESS <= 256
    copro = plan("dspy-copro", 256, n, n)
    assert copro["depth"] * copro["breadth"] * n <= 256
    assert plan("dspy-gepa", 256, n, n)["max_metric_calls"] == 256
    with pytest.raises(ValueError, match="unknown DSPy method"):
        plan("dspy-simba", 256, n, n)


def test_dspy_plans_docstring_examples_hold() -> None:
    import doctest

    import bench.dspy_plans

    assert doctest.testmod(bench.dspy_plans).failed == 0
