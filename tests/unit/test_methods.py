"""The one method registry, and baselines run as methods into a full run directory."""

import asyncio
import doctest
import json
from itertools import count

import pytest
from click.testing import CliRunner
from fakes import Recorder
from graph_fakes import TINY, fake_models, write_examples  # noqa: F401
from langgraph.runtime import RunControl

import flowpo.methods
from flowpo.cli import cli
from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, RunStopped
from flowpo.graphs import resources as res_mod
from flowpo.graphs.optimizer import after_evaluate, after_sample, after_select
from flowpo.graphs.service import create_graph
from flowpo.methods import METHODS, Method, get_method, method_names, register
from flowpo.run.rundir import CANDIDATES, EVAL_CACHE, HISTORY, REPORT
from flowpo.run.runner import aoptimize, aresume

BASELINE = {
    "use_memory": False,
    "evaluate_test": False,
    "soft_weight": 0.0,
}


def test_registry_rejects_unknown_names_with_the_known_ones():
    with pytest.raises(ConfigError) as e:
        get_method("dspy")
    assert e.value.field == "method"
    assert all(name in e.value.fix for name in METHODS)
    with pytest.raises(ConfigError, match="unknown method 'nope'") as e:
        make_config(OptimizeConfig, method="nope")
    assert e.value.field == "method" and "opro" in e.value.fix
    with pytest.raises(ConfigError, match="registered already"):
        register(Method(name="opro", description="x", needs_llm=True, graph=False, entry="m:f"))
    with pytest.raises(ValueError, match="entry exactly"):
        Method(name="x", description="x", needs_llm=False, graph=False)


def test_registry_holds_graph_methods_and_baselines_with_their_flags():
    assert method_names(graph=True) == ["promptflow", "gflowpo", "hybrid"]
    assert method_names(graph=False) == ["manual", "fewshot", "ape", "opro", "protegi"]
    assert [n for n in METHODS if METHODS[n].needs_llm] == [
        "promptflow",
        "hybrid",
        "ape",
        "opro",
        "protegi",
    ]
    assert get_method("gflowpo").instruction_only and get_method("hybrid").sampler_action
    assert not get_method("promptflow").samples
    # the routers read the flags, not the names
    assert [after_evaluate({"method": m}) for m in ("promptflow", "gflowpo", "hybrid")] == [
        "reflect",
        "sample",
        "reflect",
    ]
    assert after_sample({"method": "hybrid"}) == "edit" and after_select({}) == "edit"
    help_text = OptimizeConfig.model_fields["method"].description or ""
    assert all(f"{name} = " in help_text for name in METHODS)


def _operator(monkeypatch):
    """OPRO/APE's operator LM: a new instruction each call, all of them with the reminder."""
    n = count()
    llm = Recorder(script=lambda msgs: f"<INS>Remember: answer case {next(n)}.</INS>")
    monkeypatch.setattr(res_mod, "_operator_llm", lambda config: llm)
    return llm


@pytest.mark.usefixtures("fake_models")
def test_optimize_opro_writes_the_run_directory_of_a_graph_run(tmp_path, monkeypatch):
    data = write_examples(tmp_path / "data.jsonl")
    llm = _operator(monkeypatch)
    events = []
    run = tmp_path / "opro"
    result = asyncio.run(
        aoptimize(
            task=str(data),
            method="opro",
            budget_examples=14,
            run_dir=run,
            on_event=events.append,
            **BASELINE,
        )
    )
    assert llm.seen, "OPRO calls the operator LM"
    spent = result["budget"]["examples_scored"]
    assert spent <= 14 and spent == 12  # manual 4, then 2 x 4; a fourth would not fit
    assert result["initial"] == {"train": 0.5, "dev": 0.5}
    assert result["final"] == {"train": 1.0, "dev": 1.0}
    assert "budget spent" in result["stop_reason"]
    for name in (
        "config.yaml",
        HISTORY,
        CANDIDATES,
        "best_prompt.md",
        "best_prompt.json",
        EVAL_CACHE,
        REPORT,
    ):
        assert (run / name).is_file(), name
    rows = [json.loads(line) for line in (run / HISTORY).read_text().splitlines()]
    assert [r["epoch"] for r in rows[:-1]] == [0, 1, 2] and rows[-1]["summary"]
    assert rows[-2]["budget"]["examples_scored"] == 12
    cands = [json.loads(line) for line in (run / CANDIDATES).read_text().splitlines()]
    assert result["chosen_id"] in {c["id"] for c in cands}
    # prompts written but never scored (the budget ran out) carry no train score
    assert any(c["n"] == 0 for c in cands)
    assert all((c["n"] > 0) == (c["train_score"] is not None) for c in cands)
    assert "Remember:" in (run / "best_prompt.md").read_text()
    html = (run / REPORT).read_text()
    assert "Incomplete run directory" not in html and "budget spent" in html
    assert [e["event"] for e in events][-1] == "done"

    # a graph run on the same data returns a result with the same keys
    graph = asyncio.run(aoptimize(task=str(data), run_dir=tmp_path / "graph", **TINY))
    assert set(result) == set(graph)
    assert set(result["initial"]) == set(graph["initial"])

    # resume of a finished baseline run returns its result and scores nothing
    before = (run / HISTORY).read_text()
    resumed = asyncio.run(aresume(run))
    assert resumed == result and (run / HISTORY).read_text() == before
    with pytest.raises(ConfigError, match="already holds a run"):
        asyncio.run(aoptimize(task=str(data), method="opro", run_dir=run, **BASELINE))


@pytest.mark.usefixtures("fake_models")
def test_a_baseline_refuses_settings_it_cannot_honour(tmp_path):
    data = write_examples(tmp_path / "data.jsonl")
    with pytest.raises(ConfigError) as e:
        asyncio.run(
            aoptimize(
                task=str(data), method="ape", approve=True, run_dir=tmp_path / "r", **BASELINE
            )
        )
    assert e.value.field == "approve"
    with pytest.raises(ConfigError, match="only budget_examples limits it") as e:
        asyncio.run(
            aoptimize(
                task=str(data), method="opro", budget_seconds=60, run_dir=tmp_path / "s", **BASELINE
            )
        )
    assert e.value.field == "budget_seconds"


@pytest.mark.usefixtures("fake_models")
def test_cli_optimize_method_ape_prints_the_summary(tmp_path, monkeypatch):
    data = write_examples(tmp_path / "data.jsonl")
    _operator(monkeypatch)
    run = tmp_path / "ape"
    args = [
        "optimize",
        "--quiet",
        "--method",
        "ape",
        "--task",
        str(data),
        "--run-dir",
        str(run),
        "--budget-examples",
        "40",
        "--use-memory",
        "false",
        "--evaluate-test",
        "false",
    ]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert "dev    initial 0.5000  ->  final 1.0000" in out.output
    assert f"best prompt: {run / 'best_prompt.md'}" in out.output
    summary = json.loads((run / HISTORY).read_text().splitlines()[-1])
    assert summary["budget"]["examples_scored"] <= 40 and (run / REPORT).is_file()
    help_out = CliRunner().invoke(cli, ["optimize", "--help"]).output
    assert "protegi" in help_out and "hybrid" in help_out


@pytest.mark.usefixtures("fake_models")
async def test_the_server_graph_runs_a_baseline(tmp_path):
    write_examples(tmp_path / "data.jsonl")
    graph = create_graph(runs_dir=tmp_path, data_dir=tmp_path)
    out = await graph.ainvoke({"task": "data.jsonl", "config": {"method": "fewshot", **BASELINE}})
    assert out["result"]["stop_reason"].startswith("fewshot: no search")
    assert out["result"]["budget"]["examples_scored"] == 0
    assert "examples" in out["best_prompt"]
    run = tmp_path / out["run_dir"]
    assert (run / REPORT).is_file() and (run / CANDIDATES).is_file()


@pytest.mark.usefixtures("fake_models")
def test_a_drain_request_stops_a_baseline_before_its_next_scoring(tmp_path, monkeypatch):
    data = write_examples(tmp_path / "data.jsonl")
    _operator(monkeypatch)
    control = RunControl()
    control.request_drain("test")
    with pytest.raises(RunStopped, match="after 0 scorings"):
        asyncio.run(
            aoptimize(
                task=str(data), method="opro", run_dir=tmp_path / "r", control=control, **BASELINE
            )
        )
    result = asyncio.run(aresume(tmp_path / "r"))  # nothing saved: it runs again
    assert result["budget"]["examples_scored"] == 4 * 8  # default: 8 x the train split


def test_docstring_examples_run():
    failed, tried = doctest.testmod(flowpo.methods)
    assert failed == 0 and tried > 0
