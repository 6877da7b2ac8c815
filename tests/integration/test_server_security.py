"""What a request to `flowpo serve` (or the public graph) may reach (issue 18, must-show 1).

Models only from the operator's list, never an unlisted URL (a recording fake model
server proves nothing is sent); executor, Ray address, checkpointer and paths stay in the
server's configuration and directories; closed CORS; a bearer token with --allow-public;
fuzzed run inputs get a checked configuration or a 4xx naming the field, never a 500.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helper import RecordingModel, start_server, stop_server
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from flowpo.config import OptimizeConfig
from flowpo.errors import ConfigError, FlowpoError
from flowpo.graph_server.app import Gate, check_run_body
from flowpo.run.requests import MODEL_FIELDS, Roots, allowed_models, check_request

TOKEN = "test-token-123"
ROOTS = Roots(Path(tempfile.mkdtemp(prefix="flowpo-sec-data-")), Path("/nonexistent-runs"))
NASTY = [
    "../../etc/passwd",
    "/etc/passwd.csv",
    "data/../../x.jsonl",
    "openai-compatible:http://evil.example/v1#m",
    "openai:gpt-4o",
    "local:/etc",
    "/tmp/model.gguf",
    "smollm2-135m",
    "local:smollm2-135m",
    "ray",
    "local",
    "ray://evil.example:10001",
    "postgresql://u@evil.example/db",
    "sst2",
    "",
]


@pytest.fixture
def recorder():
    model = RecordingModel()
    yield model
    model.close()


def test_an_unlisted_model_url_is_refused_naming_the_field(recorder, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    roots = Roots(tmp_path, tmp_path / "runs")
    for field in MODEL_FIELDS:
        for where in ("config", "context"):
            named = {field: recorder.spec}
            request = {"task": "sst2", **({"config": named} if where == "config" else {})}
            context = named if where == "context" else None
            with pytest.raises(ConfigError) as e:
                check_request(request, context, roots=roots)
            assert e.value.field == field and "flowpo serve --models" in str(e.value)
            body = json.dumps({"input": request, "context": context}).encode()
            assert check_run_body(body, roots)["field"] == field
    assert recorder.requests == []
    listed = Roots(tmp_path, tmp_path / "runs", models=(recorder.spec,))
    assert check_request({"task": "sst2", "config": {"model": recorder.spec}}, roots=listed)
    assert recorder.requests == []  # checking never calls a model


def test_server_settings_and_paths_cannot_come_from_a_request(tmp_path):
    roots = Roots(tmp_path, tmp_path / "runs")
    cases = [
        ({"executor": "ray"}, "executor"),
        ({"ray_address": "ray://evil.example:10001"}, "ray_address"),
        ({"checkpointer": "postgresql://u@evil.example/db"}, "checkpointer"),
        ({"gfn_model": "/tmp/evil.gguf"}, "gfn_model"),
        ({"gfn_model": "local:/tmp/evil"}, "gfn_model"),
        ({"embedder": "openai:text-embedding-3-small"}, "embedder"),
        ({"prompt_file": "/etc/passwd"}, "prompt_file"),
        ({"run_dir": "../../elsewhere"}, "run_dir"),
        ({"memory_dir": "/tmp/shared-memory"}, "memory_dir"),
    ]
    for config, field in cases:
        with pytest.raises(ConfigError) as e:
            check_request({"task": "sst2", "config": config}, roots=roots)
        assert e.value.field == field and e.value.fix, (config, e.value)
        with pytest.raises(ConfigError):
            check_request({"task": "sst2"}, config, roots=roots)
    for task in ("/etc/passwd.csv", "../x.jsonl"):
        with pytest.raises(ConfigError) as e:
            check_request({"task": task}, roots=roots)
        assert e.value.field == "task"
    # Repeating the server's own settings is fine; the operator's defaults are trusted.
    ok = check_request({"task": "sst2", "config": {"executor": "local"}}, roots=roots)
    assert ok.executor == "local" and ok.ray_address is None
    server = {"executor": "ray", "ray_address": "auto", "gfn_model": "/models/p.gguf"}
    ok = check_request({"task": "sst2"}, {"ray_address": "auto"}, defaults=server, roots=roots)
    assert ok.executor == "ray" and ok.gfn_model == "/models/p.gguf"
    with pytest.raises(ConfigError):
        check_request({"task": "sst2"}, {"ray_address": "ray://x:1"}, defaults=server, roots=roots)


async def test_settings_written_into_the_graph_state_are_checked_again(tmp_path):
    from langgraph.checkpoint.memory import InMemorySaver

    from flowpo.graphs.service import create_graph

    runs = tmp_path / "runs"
    graph = create_graph(data_dir=tmp_path, runs_dir=runs, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t"}}
    run_dir = str(tmp_path / "runs" / "r")
    for settings_, field in (
        ({"executor": "ray", "ray_address": "ray://evil.example:10001"}, "executor"),
        ({"model": "openai-compatible:http://evil.example/v1#m"}, "model"),
        ({"gfn_model": "/tmp/evil.gguf"}, "gfn_model"),
        ({"prompt_file": "/etc/passwd"}, "prompt_file"),
    ):
        values = {"settings": {"task": "sst2", "run_dir": run_dir, **settings_}, "run_dir": run_dir}
        await graph.aupdate_state(thread, values, as_node="prepare")
        with pytest.raises(ConfigError) as e:
            await graph.ainvoke(None, thread)
        assert e.value.field == field
    assert not (tmp_path / "runs" / "r").exists()


def _json() -> st.SearchStrategy:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-3, 10**6)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from(NASTY)
        | st.text(max_size=12)
    )
    return st.recursive(
        leaves,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=6,
    )


FIELDS = sorted(OptimizeConfig.model_fields)
SETTINGS = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), _json(), max_size=4)
EXAMPLE = st.fixed_dictionaries(
    {"input": st.text(max_size=10), "target": st.text(max_size=5)},
    optional={"split": st.sampled_from(["train", "dev", "test", "x"])},
)
INPUTS = st.one_of(
    _json(),
    st.fixed_dictionaries(
        {},
        optional={
            "task": st.sampled_from(NASTY) | _json(),
            "examples": st.lists(EXAMPLE | _json(), max_size=3) | _json(),
            "config": SETTINGS | _json(),
            "extra": _json(),
        },
    ),
)


def _holds(config: OptimizeConfig, roots: Roots) -> None:
    """Assert an accepted request stays inside the roots and the server's settings."""
    task = Path(config.task)
    assert (
        config.task == "examples.jsonl"  # inline examples, written under the run directory
        or (len(task.parts) == 1 and not task.suffix)
        or task.resolve().is_relative_to(roots.data)
    )
    if config.prompt_file is not None:
        assert config.prompt_file.resolve().is_relative_to(roots.data)
    for path in (config.run_dir, config.memory_dir):
        assert path is None or Path(path).resolve().is_relative_to(roots.runs)
    allowed = allowed_models(OptimizeConfig(), roots)
    bare = {a.removeprefix("local:") for a in allowed}
    for field in MODEL_FIELDS:
        value = getattr(config, field)
        assert value is None or value in allowed or value.removeprefix("local:") in bare
    assert (config.executor, config.ray_address, config.checkpointer) == ("local", None, None)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=INPUTS, context=st.none() | SETTINGS | _json())
def test_fuzzed_inputs_are_checked_or_refused_by_name(request, context):
    try:
        _holds(check_request(request, context, roots=ROOTS), ROOTS)
    except FlowpoError as e:
        assert e.field, e
    body = {"input": request, "context": context, "assistant_id": "flowpo"}
    answer = check_run_body(json.dumps(body).encode(), ROOTS)
    assert answer is None or (answer["field"] and "Traceback" not in answer["detail"])


def test_the_gate_refuses_foreign_pages_and_callers_without_the_token(monkeypatch):
    async def echo(request):
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route("/runs/wait", echo, methods=["POST"]), Route("/ok", echo)])
    client = TestClient(Gate(inner), base_url="http://127.0.0.1:2024")
    evil = {"Origin": "http://evil.example"}
    r = client.post("/runs/wait", headers=evil, json={})
    assert r.status_code == 403 and r.json()["field"] == "origin"
    assert client.post("/runs/wait", headers={"Origin": "http://127.0.0.1:2024"}).status_code == 200
    monkeypatch.setenv("FLOWPO_SERVE_CORS_ORIGINS", "http://evil.example")
    assert client.post("/runs/wait", headers=evil).status_code == 200  # named by the operator
    monkeypatch.setenv("FLOWPO_SERVE_TOKEN", TOKEN)
    for auth in (None, "Bearer wrong", TOKEN, f"Basic {TOKEN}"):
        r = client.post("/runs/wait", headers={"Authorization": auth} if auth else {})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.post("/runs/wait", headers={"Authorization": f"Bearer {TOKEN}"}).is_success
    assert client.get("/ok").status_code == 200  # liveness needs no token


# ---- a real server: --allow-public with a token, on 127.0.0.1 ------------------------


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    root = tmp_path_factory.mktemp("public")
    env = {"OPENAI_API_KEY": "sk-must-not-leak"}
    proc, url = start_server(root, "--allow-public", "--token", TOKEN, env=env)
    yield url, {"Authorization": f"Bearer {TOKEN}"}
    assert stop_server(proc) == 0


@pytest.mark.slow
def test_live_server_needs_the_token(public):
    url, auth = public
    for headers in ({}, {"Authorization": "Bearer nope"}, {"x-auth-scheme": "langsmith"}):
        r = httpx.post(f"{url}/threads", json={}, headers=headers)
        assert r.status_code in (401, 403), r.text
        assert httpx.get(f"{url}/flowpo/health", headers=headers).status_code in (401, 403)
    assert httpx.post(f"{url}/threads", json={}, headers=auth).status_code == 200
    health = httpx.get(f"{url}/flowpo/health", headers=auth).json()
    assert health["models"][0] == "local:smollm2-135m"


@pytest.mark.slow
def test_live_server_refuses_foreign_origins(public):
    url, auth = public
    preflight = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    r = httpx.options(f"{url}/runs/wait", headers=preflight)
    assert "access-control-allow-origin" not in r.headers and r.status_code >= 400
    r = httpx.post(
        f"{url}/threads", content=b"{}", headers={**auth, "Origin": "http://evil.example"}
    )
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


@pytest.mark.slow
def test_live_server_sends_nothing_to_an_unlisted_model_url(public, recorder):
    url, auth = public
    for field in MODEL_FIELDS:
        named = {field: recorder.spec}
        body = {"assistant_id": "flowpo", "input": {"task": "sst2"}, "context": named}
        r = httpx.post(f"{url}/runs/wait", json=body, headers=auth, timeout=30)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    ray = {"executor": "ray", "ray_address": "ray://evil.example:10001"}
    body = {"assistant_id": "flowpo", "input": {"task": "sst2", "config": ray}}
    r = httpx.post(f"{url}/runs/wait", json=body, headers=auth, timeout=30)
    assert r.status_code == 422 and r.json()["field"] == "executor"
    r = httpx.post(f"{url}/assistants", json={"graph_id": "flowpo", "context": ray}, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "executor"
    thread = httpx.post(f"{url}/threads", json={}, headers=auth).json()["thread_id"]
    values = {"settings": {"task": "sst2", "model": recorder.spec}, "run_dir": "/tmp/x"}
    r = httpx.post(f"{url}/threads/{thread}/state", json={"values": values}, headers=auth)
    assert r.status_code == 403 and r.json()["field"] == "state"
    command = {"update": values, "goto": "optimize"}
    body = {"assistant_id": "flowpo", "command": command}
    r = httpx.post(f"{url}/threads/{thread}/runs/wait", json=body, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "command.update"
    steps = [{"updates": [{"values": values, "as_node": "prepare"}]}]
    r = httpx.post(f"{url}/threads", json={"supersteps": steps}, headers=auth)
    assert r.status_code == 403 and r.json()["field"] == "state"
    assert recorder.requests == []


def _refused(body: dict) -> bool:
    return check_run_body(json.dumps(body).encode(), ROOTS) is not None


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=INPUTS, context=st.none() | SETTINGS)
def test_live_server_answers_fuzzed_inputs_with_4xx_naming_the_field(public, request, context):
    url, auth = public
    body = {"assistant_id": "flowpo", "input": request, "context": context}
    if not _refused(body):  # an accepted input would start a real run
        body["input"] = {"task": "../../etc/passwd.csv", "fuzz": request}
    r = httpx.post(f"{url}/runs/wait", json=body, headers=auth, timeout=30)
    assert 400 <= r.status_code < 500, r.text
    assert "Traceback" not in r.text and r.json()["field"]
