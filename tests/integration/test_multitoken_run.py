"""A five-class file whose labels are several tokens runs to the end in default mode."""

import json

import pytest

from flowpo.cli import main

pytestmark = pytest.mark.slow

REVIEWS = {
    "very positive": ["a masterpiece, I loved every minute", "brilliant and moving, the best film"],
    "positive": ["a good film with nice acting", "pleasant and enjoyable enough"],
    "neutral": ["it was a film, neither good nor bad", "average, some parts fine, some not"],
    "negative": ["rather dull and too long", "weak plot and flat acting"],
    "very negative": ["the worst film I have ever seen", "awful, a total waste of time"],
}


def five_class_file(path):
    rows = []
    for label, texts in REVIEWS.items():
        for i, split in enumerate(["train", "train", "dev", "test"]):
            text = texts[i % 2] + ("" if i < 2 else " indeed")
            rows.append({"input": text, "target": label, "split": split})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_multi_token_labels_run_to_the_end_in_default_mode(tmp_path, capsys):
    data = five_class_file(tmp_path / "five.jsonl")
    run = tmp_path / "run"
    main(
        [
            "optimize",
            "--task",
            str(data),
            "--max-epochs",
            "1",
            "--actions-per-epoch",
            "2",
            "--reflect-cases",
            "0",
            "--track-dev",
            "false",
            "--operator-max-tokens",
            "24",
            "--use-memory",
            "false",
            "--dtype",
            "float32",
            "--run-dir",
            str(run),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert "stopped:" in out and "test" in out
    assert "after 1 epochs" in out
    best = json.loads((run / "best_prompt.json").read_text())
    assert best  # the chosen prompt, maybe with one-token words the search found
    assert (run / "best_prompt.md").is_file() and (run / "report.html").is_file()
