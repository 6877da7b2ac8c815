"""`flowpo serve`'s options: busy port, allowed models, CORS origins, token, stopping."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from flowpo.errors import ConfigError
from flowpo.graph_server.cli import (
    check_port,
    langgraph_config,
    parse_models,
    parse_origins,
    run_until_stopped,
    server_env,
    url_of,
)


def test_a_busy_port_is_refused_before_the_server_starts(tmp_path, capsys):
    from flowpo.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError) as e:
            check_port("127.0.0.1", port)
        assert e.value.field == "port" and "--port" in e.value.fix
        with pytest.raises(SystemExit) as stop:
            main(["serve", "--port", str(port), "--runs-dir", str(tmp_path / "runs")])
        assert stop.value.code == 2 and "flowpo server on" not in capsys.readouterr().out
    assert check_port("127.0.0.1", 0) > 0
    assert url_of("::1", 80) == "http://[::1]:80"


def test_models_and_origins_are_checked(tmp_path):
    specs = parse_models("openai:gpt-4o-mini, local:models/m ,", tmp_path)
    assert specs == ["openai:gpt-4o-mini", f"local:{tmp_path / 'models' / 'm'}"]
    with pytest.raises(ConfigError) as e:
        parse_models("ftp:x", tmp_path)
    assert e.value.field == "models"
    assert parse_origins("https://a.example/, http://localhost:3000") == [
        "https://a.example",
        "http://localhost:3000",
    ]
    for bad in ("*", "a.example", "https://a.example/path", "https://*.example"):
        with pytest.raises(ConfigError) as e:
            parse_origins(bad)
        assert e.value.field == "cors-origins"


def test_cors_is_closed_and_the_token_turns_on_auth(tmp_path, monkeypatch):
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "*")
    monkeypatch.setenv("FLOWPO_SERVE_TOKEN", "from-the-shell")
    closed = langgraph_config()
    assert closed["http"]["cors"]["allow_origins"] == [] and "auth" not in closed
    public = langgraph_config(origins=["https://a.example"], auth=True)
    assert public["http"]["cors"]["allow_origins"] == ["https://a.example"]
    assert public["auth"]["disable_studio_auth"] and public["http"]["enable_custom_route_auth"]
    env = server_env(tmp_path, tmp_path / "runs", models=["openai:x"], token="t")
    assert "CORS_ALLOW_ORIGINS" not in env and json.loads(env["CORS_CONFIG"])["allow_origins"] == []
    assert env["FLOWPO_SERVE_MODELS"] == "openai:x" and env["FLOWPO_SERVE_TOKEN"] == "t"
    assert "FLOWPO_SERVE_TOKEN" not in server_env(tmp_path, tmp_path / "runs")


def test_a_signal_stops_the_whole_process_group_and_exits_0():
    sleep = "import time; time.sleep(60)"
    child = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {sleep!r}]); {sleep}"
    proc = subprocess.Popen([sys.executable, "-c", child], start_new_session=True)
    timer = threading.Timer(1.0, lambda: signal.raise_signal(signal.SIGTERM))
    timer.start()
    assert run_until_stopped(proc, grace=5) == 0
    deadline = time.time() + 10
    while time.time() < deadline:  # nothing of the group is left (once reaped)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("a process of the server's group outlived it")


async def test_the_langgraph_auth_handler_takes_only_the_token(monkeypatch):
    pytest.importorskip("langgraph_sdk")
    from langgraph_sdk import Auth

    from flowpo.graph_server.auth import authenticate

    monkeypatch.setenv("FLOWPO_SERVE_TOKEN", "s3cret")
    assert await authenticate("Bearer s3cret") == "flowpo"
    for wrong in (None, "", "Bearer s3cre", "s3cret", "Basic s3cret"):
        with pytest.raises(Auth.exceptions.HTTPException) as e:
            await authenticate(wrong)
        assert e.value.status_code == 401
