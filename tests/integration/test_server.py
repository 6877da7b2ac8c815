"""flowpo served by `flowpo serve` (langgraph dev) on 127.0.0.1, driven by langgraph-sdk.

One server for the module (it loads the embedded model once); tiny inline tasks.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypedDict

import httpx
import pytest

pytest.importorskip("langgraph_api", reason="needs the [server] extra")

from langgraph_sdk import get_client  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [
    {"input": "a wonderful, moving film", "target": "positive", "split": "train"},
    {"input": "dull and far too long", "target": "negative", "split": "train"},
    {"input": "I loved every minute of it", "target": "positive", "split": "train"},
    {"input": "a boring, ugly mess", "target": "negative", "split": "train"},
    {"input": "great acting and a clever plot", "target": "positive", "split": "dev"},
    {"input": "awful dialogue", "target": "negative", "split": "dev"},
]
TINY = {
    "max_epochs": 1,
    "actions_per_epoch": 2,
    "operators": "repeat_instructions,calibrate",
    "reflect_cases": 0,
    "evaluate_test": False,
    "use_memory": False,
    "dtype": "float32",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    log = (root / "server.log").open("w")
    cmd = [sys.executable, "-m", "flowpo", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(root), "--runs-dir", str(root / "runs")]
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    try:
        while True:
            assert proc.poll() is None, (root / "server.log").read_text()[-3000:]
            assert time.time() < deadline, "the server did not start"
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url, root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


async def _status_of(call) -> httpx.Response:
    with pytest.raises(httpx.HTTPStatusError) as e:
        await call
    return e.value.response


async def test_optimize_through_the_sdk_with_progress_events(server):
    url, root = server
    client = get_client(url=url)
    assert httpx.get(f"{url}/flowpo/health").json()["runs_dir"] == str(root / "runs")
    thread = (await client.threads.create())["thread_id"]

    bad = [
        ({"task": "sst3"}, TINY, "task"),
        ({"task": "sst2"}, {**TINY, "max_epochs": "two"}, "max_epochs"),
        ({"examples": [{"input": "no target"}]}, TINY, "examples[0].target"),
        ({"task": "../../etc/passwd.csv"}, TINY, "task"),
        ({"task": "sst2"}, {"no_such_setting": 1}, "no_such_setting"),
    ]
    for request, context, field in bad:
        r = await _status_of(client.runs.wait(thread, "flowpo", input=request, context=context))
        assert r.status_code == 422 and r.json()["field"] == field, r.text
        assert field in r.json()["detail"]
    assert (await client.runs.list(thread)) == []  # the bad requests left no run behind

    events = []
    async for part in client.runs.stream(
        thread, "flowpo", input={"examples": EXAMPLES}, context=TINY, stream_mode="custom"
    ):
        assert part.event != "error", part.data
        if part.event == "custom":
            events.append(part.data)
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [0, 1]
    assert events[-1]["event"] == "done"

    values = (await client.threads.get_state(thread))["values"]
    result, best = values["result"], values["best_prompt"]
    assert result["epochs"] == 1 and 0 <= result["final"]["dev"] <= 1
    assert result["budget"]["examples_scored"] >= 4  # at least the initial prompt on train
    run_dir = Path(values["run_dir"])
    assert run_dir.parent == root / "runs"
    assert best and best == (run_dir / "best_prompt.md").read_text()
    # A whole run directory, as the CLI writes it: config, checkpoints, trace, report.
    for name in ("config.yaml", "checkpoints.sqlite", "history.jsonl", "trace.json"):
        assert (run_dir / name).is_file(), name
    report = (run_dir / "report.html").read_text()
    assert "flowpo run: ?" not in report and "Incomplete run directory" not in report
    with sqlite3.connect(root / "runs" / "server-checkpoints.sqlite") as db:
        rows = db.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (thread,))
        assert rows.fetchone()[0] > 0  # the SQLite checkpointer from langgraph.json holds it


async def test_approval_pauses_and_resumes_through_the_server(server):
    url, _ = server
    client = get_client(url=url)
    thread = (await client.threads.create())["thread_id"]
    r = await _status_of(client.runs.wait(thread, "flowpo", command={"resume": "perhaps"}))
    assert r.status_code == 422 and r.json()["field"] == "resume.action"
    context = {**TINY, "approve": True, "max_epochs": 2}
    await client.runs.wait(thread, "flowpo", input={"examples": EXAMPLES}, context=context)
    asked = 0
    while True:
        state = await client.threads.get_state(thread)
        pauses = state.get("interrupts") or [
            i for t in state["tasks"] for i in t.get("interrupts", [])
        ]
        if not pauses:
            break
        request = pauses[0]["value"]
        assert request["kind"] == "new_best_prompt" and request["diff"].startswith("---")
        asked += 1
        await client.runs.wait(thread, "flowpo", command={"resume": "reject"})
    values = state["values"]
    # A new best was proposed and rejected every time: only approved prompts are chosen.
    assert values["result"]["chosen_id"] == "c0" or asked == 0
    print(f"review requests answered through the server: {asked}")


class Parent(TypedDict, total=False):
    examples: list[dict[str, Any]]
    config: dict[str, Any]
    result: dict[str, Any]
    best_prompt: str


async def test_remote_graph_as_a_node_of_a_local_graph(server):
    from langgraph.graph import END, START, StateGraph
    from langgraph.pregel.remote import RemoteGraph

    url, _ = server
    parent = StateGraph(Parent)
    parent.add_node("flowpo", RemoteGraph("flowpo", url=url))
    parent.add_edge(START, "flowpo")
    parent.add_edge("flowpo", END)
    out = await parent.compile().ainvoke({"examples": EXAMPLES, "config": TINY})
    assert out["result"]["epochs"] == 1 and out["best_prompt"].strip()
    run_dir = Path(out["result"]["run_dir"])
    assert (run_dir / "config.yaml").is_file() and (run_dir / "trace.json").is_file()
