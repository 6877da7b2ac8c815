"""Data options (fields, labels, verbalizers, metric, template, split field) everywhere."""

import csv

import pytest
import yaml
from graph_fakes import TINY, fake_models, write_examples  # noqa: F401

import flowpo
from flowpo.cli import main
from flowpo.config import DataOptions, EvalConfig, OptimizeConfig, data_task
from flowpo.run.requests import Roots, prepare_request

ROWS = [
    ("good film number 1", "pos", "train"),
    ("bad film number 2", "neg", "train"),
    ("good film number 3", "pos", "train"),
    ("bad film number 4", "neg", "train"),
    ("good film number 5", "pos", "dev"),
    ("bad film number 6", "neg", "dev"),
    ("good film number 7", "pos", "test"),
    ("bad film number 8", "neg", "test"),
]
DATA = {
    "input_field": "text",
    "target_field": "label",
    "labels": "neg,pos",
    "verbalizers": "bad,good",
    "metric": "macro_f1",
    "split_field": "part",
}


def reviews(path):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "part"])
        w.writerows(ROWS)
    return path


def flags(options):
    return [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def test_one_definition_of_the_data_options_for_eval_and_optimize():
    names = set(DataOptions.model_fields)
    assert issubclass(EvalConfig, DataOptions) and issubclass(OptimizeConfig, DataOptions)
    assert names <= set(EvalConfig.model_fields) and names <= set(OptimizeConfig.model_fields)
    for name in names:
        assert repr(EvalConfig.model_fields[name]) == repr(OptimizeConfig.model_fields[name])


def test_data_task_applies_the_options_for_both_configs(tmp_path):
    path = reviews(tmp_path / "reviews.csv")
    for cls in (EvalConfig, OptimizeConfig):
        task = data_task(cls(task=str(path), **DATA))
        assert task.labels == ("neg", "pos") and task.metric == "macro_f1"
        assert task.verbalizers == {"neg": "bad", "pos": "good"}
        assert [len(task.split(s)) for s in ("train", "dev", "test")] == [4, 2, 2]


@pytest.mark.usefixtures("fake_models")
def test_optimize_and_resume_take_the_data_options_from_the_cli(tmp_path, capsys):
    path = reviews(tmp_path / "reviews.csv")
    run = tmp_path / "run"
    tiny = {k: v for k, v in TINY.items() if k != "evaluate_test"}
    main(
        [
            "optimize",
            "--task",
            str(path),
            *flags(DATA),
            *flags(tiny),
            "--run-dir",
            str(run),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert "stopped:" in out and "test" in out
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert {k: saved[k] for k in DATA} == DATA  # resume rebuilds the same task
    main(["resume", str(run), "--quiet"])  # finished already: the saved result again
    assert "stopped:" in capsys.readouterr().out


@pytest.mark.usefixtures("fake_models")
async def test_the_served_graph_runs_a_file_with_the_data_options(tmp_path):
    from flowpo.graphs.service import create_graph

    reviews(tmp_path / "reviews.csv")
    graph = create_graph(TINY, runs_dir=tmp_path / "runs", data_dir=tmp_path)
    out = await graph.ainvoke({"task": "reviews.csv", "config": DATA})
    assert set(out["result"]["final"]) >= {"train", "dev"}
    assert "bad" in out["best_prompt"] and "good" in out["best_prompt"]  # the label words


def test_a_server_request_takes_the_data_options(tmp_path):
    reviews(tmp_path / "reviews.csv")
    roots = Roots(tmp_path, tmp_path / "runs")
    config = prepare_request(
        {"task": "reviews.csv", "config": {**DATA, "max_epochs": 1}}, roots=roots
    )
    assert config.labels == "neg,pos" and data_task(config).metric == "macro_f1"


def test_eval_result_file_names_hold_the_model():
    from types import SimpleNamespace

    from flowpo.api import default_output

    scored = SimpleNamespace(prompt_fingerprint="abc")
    local = default_output(EvalConfig(task="sst2"), scored)
    remote = default_output(EvalConfig(task="sst2", model="openai:gpt-4o-mini"), scored)
    assert local != remote and "local_smollm2-135m" not in str(local)
    assert local.name == "eval-sst2-test-local_smollm2_135m-abc.json"


def test_a_request_may_not_name_a_program(tmp_path):
    roots = Roots(tmp_path, tmp_path / "runs")
    for request, context in (
        ({"task": "sst2", "config": {"program": "os:system"}}, None),
        ({"task": "sst2"}, {"program": "os:system"}),
    ):
        with pytest.raises(flowpo.ConfigError, match="program") as e:
            prepare_request(request, context, roots=roots)
        assert e.value.field == "program"


def test_the_summary_says_whether_the_target_went_through_a_chat_template():
    from flowpo.models.spec import scoring_path

    assert scoring_path("local:smollm2-135m").startswith("raw text")
    remote = scoring_path("openai-compatible:http://127.0.0.1:8000/v1#smollm2")
    assert remote.startswith("chat template") and "local:" in remote
    program = scoring_path("local:smollm2-135m", program="python:RunnableSequence")
    assert program.startswith("chat template: the program")


@pytest.mark.usefixtures("fake_models")
def test_a_remote_chat_target_is_said_in_the_result_report_and_cli(tmp_path, capsys, monkeypatch):
    import flowpo.scale.preflight as preflight
    from flowpo.cli_progress import report

    async def has_logprobs(model, **kwargs):  # the fake target stands in for the endpoint
        return None

    monkeypatch.setattr(preflight, "check_remote_logprobs", has_logprobs)

    run = tmp_path / "run"
    result = flowpo.optimize(
        task=str(write_examples(tmp_path / "d.jsonl")),
        model="openai:gpt-4o-mini",
        run_dir=run,
        **TINY,
    )
    assert result["scoring"].startswith("chat template: the remote endpoint")
    assert "Scored through: chat template" in (run / "report.html").read_text()
    report({**result, "run_dir": str(run)})
    assert "scored through: chat template" in capsys.readouterr().out
