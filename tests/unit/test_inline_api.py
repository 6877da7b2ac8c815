"""flowpo.optimize(examples=..., metric=<callable>), the result object, Classifier, export."""

import json
import subprocess
import sys

import pytest
from fakes import Recorder
from graph_fakes import EXAMPLES, TINY, ReminderLM, fake_models  # noqa: F401

import flowpo
from flowpo.cli import main
from flowpo.graphs import resources as res_mod
from flowpo.metrics.callables import as_metric
from flowpo.types import Example

RUN = {**TINY, "reflect_cases": 2}


def exact(example, output):
    """A Python metric with feedback."""
    right = output == example.target
    return float(right), None if right else f"the answer should be {example.target}"


@pytest.fixture
def recorder(fake_models, monkeypatch):  # noqa: F811
    rec = Recorder(script=["It missed the word bad."])
    monkeypatch.setattr(res_mod, "_operator_llm", lambda config: rec)
    return rec


def test_inline_examples_and_a_python_metric_with_feedback(tmp_path, recorder):
    run = tmp_path / "run"
    result = flowpo.optimize(examples=EXAMPLES, metric=exact, run_dir=run, **RUN)
    assert isinstance(result, flowpo.OptimizeResult) and result.run_dir == run
    assert result["final"]["train"] == result.scores["final"]["train"] == 1.0
    assert result["initial"]["train"] == 0.5 and result.costs["examples_scored"] > 0
    assert "Remember:" in result.prompt.text and result.prompt.verbalizers
    saved = (run / "config.yaml").read_text()
    assert "metric: python:exact" in saved and (run / "examples.jsonl").is_file()
    asked = "\n".join(str(m.content) for conv in recorder.seen for m in conv)
    assert "The metric's feedback" in asked and "the answer should be negative" in asked


def test_a_langsmith_style_evaluator_is_a_metric(tmp_path, recorder):
    def evaluator(run, example):
        ok = run.outputs["output"] == example.outputs["output"]
        return {"score": float(ok), "comment": "" if ok else "wrong label"}

    result = flowpo.optimize(examples=EXAMPLES, metric=evaluator, run_dir=tmp_path / "r", **RUN)
    assert result["final"]["train"] == 1.0


def test_a_resume_without_the_callable_names_the_metric_field(tmp_path, recorder):
    run = tmp_path / "run"
    flowpo.optimize(examples=EXAMPLES, metric=exact, run_dir=run, **RUN)
    out = subprocess.run(
        [sys.executable, "-m", "flowpo", "resume", str(run), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "metric" in out.stderr and "flowpo.resume(" in out.stderr and "exact" in out.stderr
    again = flowpo.resume(run, metric=exact)  # the same function: the finished result
    assert again["final"]["train"] == 1.0
    with pytest.raises(flowpo.ConfigError, match="metric"):
        flowpo.resume(run, metric=lambda example, output: 1.0)


@pytest.mark.parametrize(
    ("fn", "error", "words"),
    [
        (42, TypeError, "not callable"),
        (lambda x: 1.0, TypeError, "two arguments"),
        (lambda e, o: "yes", TypeError, "not a number"),
        (lambda e, o: 2.0, ValueError, "outside"),
        (lambda e, o: 1 / 0, TypeError, "ZeroDivisionError"),
        (lambda run, example: {"comment": "x"}, TypeError, "without 'score'"),
    ],
)
def test_a_bad_metric_fails_early_with_the_fix(fn, error, words):
    with pytest.raises(error, match=words):
        as_metric(fn, Example("e", "in", "out"))


def test_bad_inline_examples_fail_early(tmp_path):
    with pytest.raises(flowpo.DataError, match="no 'target'"):
        flowpo.optimize(examples=[{"input": "x"}], run_dir=tmp_path / "r", **TINY)
    with pytest.raises(flowpo.ConfigError, match="not both"):
        flowpo.optimize(task="sst2", examples=EXAMPLES, run_dir=tmp_path / "s", **TINY)


def test_classifier_to_langchain_and_langsmith_export(tmp_path, fake_models):  # noqa: F811
    run = tmp_path / "run"
    result = flowpo.optimize(examples=EXAMPLES, run_dir=run, **TINY)
    prompt = result.prompt
    clf = flowpo.Classifier(prompt, ReminderLM())
    assert clf.predict(["bad film", "good film"]) == ["negative", "positive"]
    assert sum(clf.predict_proba(["bad film"])[0].values()) == pytest.approx(1.0)
    template = prompt.to_langchain()
    assert template.format(text="bad film") == prompt.render("bad film", "")
    assert template.metadata["flowpo"]["label_words"] == prompt.verbalizers
    chat = prompt.to_langchain(chat=True)
    assert chat.format_messages(text="x")[0].content == prompt.text
    main(["export", "--format", "langsmith", str(run)])
    manifest = json.loads((run / "prompt.langsmith.json").read_text())
    assert manifest["lc"] == 1 and manifest["id"][-1] == "PromptTemplate"
    assert manifest["kwargs"]["template"] == template.template
