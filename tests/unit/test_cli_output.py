"""What the CLI prints: one-line warnings, no empty bars, progress within an epoch, paths."""

import logging
import warnings

from flowpo.cli_progress import EvalBar, Progress, report, setup_output
from flowpo.tasks.splits import SplitWarning


def test_flowpo_warnings_print_as_one_line(capsys):
    saved = warnings.showwarning
    try:
        setup_output(quiet=True)
        warnings.warn("data.csv: only 5 examples per class", SplitWarning, stacklevel=1)
    finally:
        warnings.showwarning = saved
    err = capsys.readouterr().err
    assert err == "warning: data.csv: only 5 examples per class\n"


def test_model_loading_line_shows_unless_quiet(capsys):
    setup_output(quiet=False)
    logging.getLogger("flowpo.models").info("loading model smollm2-135m ...")
    assert "loading model smollm2-135m ..." in capsys.readouterr().err
    setup_output(quiet=True)
    logging.getLogger("flowpo.models").info("loading model smollm2-135m ...")
    assert capsys.readouterr().err == ""


def test_eval_bar_draws_nothing_when_all_is_cached_or_on_error(capsys):
    bar = EvalBar("sst2", quiet=False)
    bar(10, 10)  # everything cached
    bar.close()
    assert capsys.readouterr().err == ""
    bar = EvalBar("sst2", quiet=False)
    bar(0, 10)
    bar(10, 10)
    bar.close()
    assert "10/10" in capsys.readouterr().err


def test_progress_moves_within_an_epoch(capsys):
    progress = Progress(2, quiet=False)
    progress({"event": "edited", "epoch": 1, "done": 1, "planned": 6})
    assert "epoch 1: edited 1/6 actions" in str(progress.bar)
    progress({"event": "scored", "epoch": 1, "done": 2, "planned": 6,
              "budget": {"examples_scored": 64}})  # fmt: skip
    text = str(progress.bar)
    assert "epoch 1: scored 2/6 candidates" in text and "64 ex scored" in text
    progress({"event": "epoch", "epoch": 1, "best_train": 0.75, "budget": {}, "actions": []})
    assert progress.bar.n == 1 and "best train 0.750" in str(progress.bar)
    progress.close()


def test_summary_names_the_run_files(tmp_path, capsys):
    report(
        {
            "initial": {"train": 0.5, "dev": 0.5},
            "final": {"train": 0.7, "dev": 0.6},
            "epochs": 1,
            "stop_reason": "max_epochs",
            "budget": {},
            "operator_usage": {},
            "run_dir": str(tmp_path),
            "memory_read": 3,
        }
    )
    out = capsys.readouterr().out
    for name in ("best_prompt.md", "report.html", "trace.json", "--memory-snapshot"):
        assert name in out
