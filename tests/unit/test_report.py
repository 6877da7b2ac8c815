"""report.html: sections present, SVG parsable, self-contained, incomplete runs explained."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from flowpo.cli import main
from flowpo.prompt import Prompt, Section
from flowpo.reporting.html import SECTIONS, write_report
from flowpo.run.rundir import BEST_JSON, CANDIDATES, CONFIG_FILE, HISTORY, REPORT

INITIAL = Prompt((Section("task", "Classify the review."), Section("format", "Answer yes or no.")))
BEST = Prompt(
    (
        Section("task", "Classify the movie review's sentiment."),
        Section("format", "Answer yes or no."),
    )
)


def _q(epoch):
    ops = ["refine", "few_shot"]
    return {
        "sections": ["task", "format"],
        "operators": ops,
        "values": {
            "task": {"refine": 0.25 + 0.1 * epoch, "few_shot": 0.25},
            "format": {"refine": 0.25, "few_shot": 0.25 - 0.05 * epoch},
        },
    }


def _rows(epochs):
    rows = []
    for e in range(epochs):
        action = {"section": "task", "operator": "refine", "failed": False, "gain": 0.1 * (e % 2)}
        rows.append(
            {
                "epoch": e,
                "best_train": 0.5 + 0.1 * e,
                "best_loss": 0.5 - 0.1 * e,
                "best_id": "c0" if e == 0 else f"e{e}-0",
                "best_dev": 0.45 + 0.05 * e,
                "evaluated": 2,
                "actions": [action] if e else [],
                "budget": {"examples_scored": 32.0 * (e + 1), "llm_calls": 3.0 * e, "seconds": 2.0},
                "q": _q(e),
                "gfn_loss": 1.0 / (e + 1),
                "gfn": {"reward": 0.2 * e, "log_z": -1.0 + e},
            }
        )
    return rows


def _write_run(path, *, finished=True, epochs=3):
    path.mkdir()
    (path / CONFIG_FILE).write_text(yaml.safe_dump({"task": "sst2", "method": "hybrid"}))
    rows = _rows(epochs)
    cands = [{"id": "c0", "epoch": 0, "prompt": INITIAL.to_dict(), "train_score": 0.5}] + [
        {"id": f"e{e}-0", "epoch": e, "prompt": BEST.to_dict(), "train_score": 0.5 + 0.1 * e}
        for e in range(1, epochs)
    ]
    (path / CANDIDATES).write_text("".join(json.dumps(c) + "\n" for c in cands))
    if finished:
        summary = {
            "summary": True,
            "chosen_id": "e2-0",
            "stop_reason": "max_epochs (2) reached",
            "epochs": epochs - 1,
            "initial": {"train": 0.5, "dev": 0.45},
            "final": {"train": 0.7, "dev": 0.55},
            "budget": rows[-1]["budget"],
        }
        rows.append(summary)
        best = {"prompt": BEST.to_dict(), "initial_prompt": INITIAL.to_dict(), **summary}
        (path / BEST_JSON).write_text(json.dumps(best))
    (path / HISTORY).write_text("".join(json.dumps(r) + "\n" for r in rows))
    gfn = [
        {"epoch": e, "step": 2 * e, "loss": 3.0 - e, "fresh_mean_acc": 0.5} for e in range(epochs)
    ]
    (path / "gfn_history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gfn))
    return path


def _svgs(html):
    blocks = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    return [ET.fromstring(b) for b in blocks]


def test_complete_run_report_has_every_section_and_valid_svg(tmp_path):
    run = _write_run(tmp_path / "run")
    html = write_report(run).read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in html, sid
    svgs = _svgs(html)
    titles = [s.get("aria-label") for s in svgs]
    for wanted in (
        "Best prompt's score per epoch",
        "Loss per epoch",
        "Q at epoch 2 (section × operator)",
        "Q over epochs: the cells that moved most",
        "Success rate (improved / chosen)",
        "Cumulative spend per epoch",
    ):
        assert wanted in titles
    # the GFlowNet series found generically: a loss chart and a reward chart
    assert "loss" in titles and "reward" in titles
    assert "gfn_log_z" in titles and "sampler_fresh_mean_acc" in titles
    loss = next(s for s in svgs if s.get("aria-label") == "loss")
    legend = [t.text for t in loss.iter("text") if t.get("class") == "legend"]
    assert legend == ["gfn_loss", "sampler_loss"]  # history.jsonl and gfn_history.jsonl
    # every Q cell of the last snapshot is a rect with its value in the tooltip
    final_q = next(s for s in svgs if s.get("aria-label").startswith("Q at epoch"))
    tips = [t.text for t in final_q.iter("title")]
    assert "task / refine: 0.45000" in tips and len(tips) == 4
    # self-contained: no script, no external resource, no URL at all
    assert "<script" not in html and not re.search(r"https?://", html)
    assert not re.search(r"\b(src|href)=", html)
    # the best prompt is diffed against the initial one
    assert "<del>review.</del><ins>movie review&#x27;s sentiment.</ins>" in html
    assert "Incomplete run directory" not in html
    # success rate: refine improved in 1 of 2 evaluated epochs
    assert "<td>refine</td><td>2</td><td>0</td><td>1</td><td>50%</td>" in html


def test_incomplete_run_says_what_is_missing_and_renders_the_rest(tmp_path):
    run = _write_run(tmp_path / "run", finished=False, epochs=2)
    html = write_report(run).read_text()
    assert "Incomplete run directory" in html
    assert "best_prompt.json is missing" in html and "No trace.json" in html
    assert "no summary row" in html
    assert "Best prompt&#x27;s score per epoch" in html  # the charts that can be drawn are
    assert "best on train so far (e1-0)" in html and "<ins>" in html
    _svgs(html)


def test_empty_directory_and_damaged_files(tmp_path, capsys):
    run = tmp_path / "empty"
    run.mkdir()
    (run / HISTORY).write_text('{"epoch": 0, "best_train": 0.5}\n{"epoch": 1, "best_tr')
    main(["report", str(run)])
    html = (run / REPORT).read_text()
    assert "config.yaml is missing" in html and "1 damaged line(s) skipped" in html
    assert "incomplete:" in capsys.readouterr().err
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in html
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "nope")])
    assert e.value.code == 2
