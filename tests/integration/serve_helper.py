"""Start `flowpo serve` (a real process on 127.0.0.1) and a fake model server that records.

``tests/`` and this folder are on ``sys.path`` (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from openai_fake import completion, send_json, serve_in_thread

ROOT = Path(__file__).resolve().parents[2]


def start_server(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``flowpo serve --port 0`` in ``root``; return the process and its printed URL."""
    full = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full.get("PYTHONPATH")) if p)
    log = root / "server.log"
    cmd = [sys.executable, "-m", "flowpo", "serve", "--port", "0", "--data-dir", str(root)]
    cmd += ["--runs-dir", str(root / "runs"), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root, env=full, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline, url = time.time() + timeout, ""
    while True:
        text = log.read_text(errors="replace")
        assert proc.poll() is None, text[-3000:]
        assert time.time() < deadline, f"the server did not start: {text[-3000:]}"
        if not url and "flowpo server on " in text:
            url = text.split("flowpo server on ", 1)[1].split()[0]
        if url:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 40) -> int:
    """SIGTERM ``flowpo serve`` (it stops its own children); return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def processes_naming(text: str) -> list[int]:
    """Return the ids of live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


class RecordingModel:
    """A fake OpenAI-compatible server that records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})
                send_json(self, 200, {"data": []})

            def do_POST(self) -> None:  # noqa: N802
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})
                send_json(self, 200, completion("positive", [("positive", -0.1)]))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = serve_in_thread(self.httpd)
        self.spec = f"openai-compatible:{self.base_url}#stolen"

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
