"""The public flowpo graph: mounted in another graph, request checks, the server's pieces."""

import json
import os
from pathlib import Path
from typing import Any, TypedDict

import pytest
from graph_fakes import EXAMPLES, TINY, fake_models, write_examples  # noqa: F401
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from flowpo.errors import ConfigError, DataError
from flowpo.graph_server.app import RequestCheck
from flowpo.graph_server.cli import langgraph_config, serve_command, server_env
from flowpo.graphs.service import create_builder, create_graph
from flowpo.run.requests import Roots, check_request, prepare_request

ROOT = Path(__file__).resolve().parents[2]


class Agent(TypedDict, total=False):
    """A user's own graph state: it shares flowpo's input and output keys."""

    examples: list[dict[str, Any]]
    config: dict[str, Any]
    result: dict[str, Any]
    best_prompt: str
    deployed: str


@pytest.mark.usefixtures("fake_models")
async def test_flowpo_runs_as_a_subgraph_of_another_graph(tmp_path):
    def collect(state: Agent) -> dict:
        return {"examples": EXAMPLES, "config": TINY}

    def deploy(state: Agent) -> dict:
        return {"deployed": f"deployed {state['result']['chosen_id']}: {state['best_prompt']}"}

    parent = StateGraph(Agent)
    parent.add_node("collect", collect)
    parent.add_node("flowpo", create_graph(runs_dir=tmp_path, data_dir=tmp_path))
    parent.add_node("deploy", deploy)
    parent.add_edge(START, "collect")
    parent.add_edge("collect", "flowpo")
    parent.add_edge("flowpo", "deploy")
    parent.add_edge("deploy", END)
    app = parent.compile()

    events, final = [], {}
    async for ns, mode, chunk in app.astream(
        {}, stream_mode=["custom", "values"], subgraphs=True
    ):
        if mode == "custom":
            events.append(chunk)
        elif not ns:
            final = chunk
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [0, 1]
    assert final["result"]["initial"]["train"] == 0.5 and final["result"]["final"]["train"] == 1.0
    assert "Remember:" in final["best_prompt"]
    assert final["deployed"].startswith(f"deployed {final['result']['chosen_id']}: ")
    run_dir = Path(final["result"]["run_dir"])
    assert run_dir.parent == tmp_path and (run_dir / "examples.jsonl").is_file()


@pytest.mark.usefixtures("fake_models")
async def test_builder_takes_defaults_and_the_context_overrides_them(tmp_path):
    write_examples(tmp_path / "data.jsonl")
    builder = create_builder({**TINY, "max_epochs": 3}, runs_dir=tmp_path, data_dir=tmp_path)
    graph = builder.compile()
    out = await graph.ainvoke({"task": "data.jsonl"}, context={"max_epochs": 1})
    assert out["result"]["epochs"] == 1  # context (1) over the factory's default (3)
    out = await graph.ainvoke({"task": "data.jsonl", "config": {"max_epochs": 2}})
    assert out["result"]["epochs"] == 2
    # Two runs on one checkpointed thread: the second sees only its own input.
    graph = builder.compile(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t"}}
    first = await graph.ainvoke({"task": "data.jsonl"}, thread)
    second = await graph.ainvoke({"examples": EXAMPLES}, thread)
    assert first["run_dir"] != second["run_dir"] and second["result"]["epochs"] == 3
    assert (Path(second["run_dir"]) / "examples.jsonl").is_file()


def test_bad_requests_name_the_field(tmp_path):
    roots = Roots(tmp_path / "data", tmp_path / "runs")
    (tmp_path / "data").mkdir()
    (tmp_path / "outside").mkdir()
    write_examples(tmp_path / "outside" / "data.jsonl")
    os.symlink(tmp_path / "outside", tmp_path / "data" / "link")
    cases = [
        ({"task": "sst3"}, None, DataError, "task"),
        ({"task": 3}, None, ConfigError, "task"),
        ({"task": "sst2", "epochs": 3}, None, ConfigError, "epochs"),
        ({"task": "sst2"}, {"max_epochs": "ten"}, ConfigError, "max_epochs"),
        ({"task": "sst2"}, {"bogus": 1}, ConfigError, "bogus"),
        ({"task": "sst2", "config": {"beam_size": 0}}, None, ConfigError, "beam_size"),
        ({"task": "sst2", "config": [1]}, None, ConfigError, "config"),
        ({"examples": [{"input": "x"}]}, None, DataError, "examples[0].target"),
        ({"examples": []}, None, DataError, "examples"),
        ({"examples": EXAMPLES, "task": "sst2"}, None, ConfigError, "examples"),
        ({"task": "missing.jsonl"}, None, DataError, "task"),
        ({"task": "../x.jsonl"}, None, ConfigError, "task"),
        ({"task": "/etc/passwd.csv"}, None, ConfigError, "task"),
        ({"task": "link/data.jsonl"}, None, ConfigError, "task"),
        ({"task": "sst2", "config": {"run_dir": "../../elsewhere"}}, None, ConfigError, "run_dir"),
        ({"task": "sst2", "config": {"memory_dir": "/tmp/m"}}, None, ConfigError, "memory_dir"),
        ({"task": "sst2", "config": {"prompt_file": "/etc/x"}}, None, ConfigError, "prompt_file"),
        ({"task": "sst2", "config": {"model": "local:/etc"}}, None, ConfigError, "model"),
        ("sst2", None, ConfigError, "input"),
    ]
    for request, context, kind, field in cases:
        with pytest.raises(kind) as e:
            check_request(request, context, roots=roots)
        assert e.value.field == field, (request, e.value)
        assert field in str(e.value)


def test_good_requests_resolve_inside_the_roots(tmp_path):
    roots = Roots(tmp_path, tmp_path / "runs")
    write_examples(tmp_path / "data.jsonl")
    config = check_request({"task": "data.jsonl"}, {"max_epochs": 2}, roots=roots)
    assert config.task == str(tmp_path / "data.jsonl") and config.max_epochs == 2
    config = prepare_request({"examples": EXAMPLES, "config": {"run_dir": "mine"}}, roots=roots)
    assert config.run_dir == tmp_path / "runs" / "mine"
    assert len((tmp_path / "runs" / "mine" / "examples.jsonl").read_text().splitlines()) == 6
    with pytest.raises(ConfigError) as e:  # a run directory is never reused by a request
        (tmp_path / "runs" / "mine" / "config.yaml").write_text("task: x\n")
        prepare_request({"task": "sst2", "config": {"run_dir": "mine"}}, roots=roots)
    assert e.value.field == "run_dir"


def test_middleware_answers_bad_run_requests_with_422_and_passes_good_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWPO_SERVE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FLOWPO_SERVE_RUNS_DIR", str(tmp_path / "runs"))
    received = []

    async def echo(request):
        received.append(await request.json())
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route("/threads/{tid}/runs/wait", echo, methods=["POST"])])
    client = TestClient(RequestCheck(inner))
    url = "/threads/abc/runs/wait"
    bad = [
        ({"input": {"task": "sst3"}}, "task"),
        ({"input": {"task": "sst2"}, "context": {"max_epochs": "x"}}, "max_epochs"),
        ({"input": {"examples": [{"target": "y"}]}}, "examples[0].input"),
        ({"command": {"resume": "perhaps"}}, "resume.action"),
        ({"command": {"resume": {"0" * 32: {"action": "edit"}}}}, "resume.prompt"),
        ({"input": {"task": "../secret.jsonl"}}, "task"),
    ]
    for body, field in bad:
        r = client.post(url, json={"assistant_id": "flowpo", **body})
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    assert received == []  # nothing reached LangGraph: no run, the thread is untouched
    good = {"assistant_id": "flowpo", "input": {"task": "sst2"}, "context": {"max_epochs": 1}}
    r = client.post(url, json=good)
    assert r.status_code == 200 and received == [good]
    r = client.post(url, content=b"{not json")
    assert r.status_code == 422 and r.json()["field"] == "body"


def test_serve_binds_loopback_unless_told_otherwise(tmp_path):
    cfg = tmp_path / "langgraph.json"
    for host in ("127.0.0.1", "::1", "localhost"):
        cmd = serve_command(host=host, port=1, allow_public=False, config_path=cfg)
        assert cmd[cmd.index("--host") + 1] == host and "--no-browser" in cmd
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com"):
        with pytest.raises(ConfigError) as e:
            serve_command(host=host, port=1, allow_public=False, config_path=cfg)
        assert e.value.field == "host" and "authentication" in str(e.value)
    assert serve_command(host="0.0.0.0", port=1, allow_public=True, config_path=cfg)
    env = server_env(tmp_path, tmp_path / "runs")
    assert env["LANGGRAPH_CLI_NO_ANALYTICS"] == "1" and env["HF_HUB_OFFLINE"] == "1"
    assert env["FLOWPO_SERVE_CHECKPOINTS"].endswith("server-checkpoints.sqlite")


def test_serve_refuses_a_public_address_before_touching_disk(tmp_path):
    from flowpo.cli import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "--host", "0.0.0.0", "--runs-dir", str(tmp_path / "runs")])
    assert e.value.code == 2 and not (tmp_path / "runs").exists()


def test_repository_langgraph_json_is_the_one_serve_writes():
    assert json.loads((ROOT / "langgraph.json").read_text()) == langgraph_config()
