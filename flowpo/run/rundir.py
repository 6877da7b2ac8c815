"""The run directory's file names and the writers of its artefacts (atomic, flushed).

The configuration file itself is read and written by :mod:`flowpo.run.settings`.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from flowpo.prompt import Prompt

CONFIG_FILE = "config.yaml"
CHECKPOINTS = "checkpoints.sqlite"
EVAL_CACHE = "eval_cache.sqlite"
HISTORY = "history.jsonl"
CANDIDATES = "candidates.jsonl"
TRACE = "trace.json"
REPORT = "report.html"
BEST_JSON = "best_prompt.json"
BEST_MD = "best_prompt.md"
GFN_HISTORY = "gfn_history.jsonl"
GFN_ADAPTER = "gfn_adapter.safetensors"


def write_atomic(path: Path, text: str) -> None:
    """Write a file so a crash leaves either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_history(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``history.jsonl`` with ``rows`` (one per epoch, then the summary)."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_atomic(run_dir / HISTORY, text)


def append_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows to a JSON-lines file, flushed to disk."""
    with path.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def upsert_jsonl(path: Path, rows: list[dict[str, Any]], key: str = "id") -> None:
    """Append rows to a JSON-lines file, replacing earlier rows with the same ``key``.

    A node killed after writing its rows but before its checkpoint runs again on resume:
    its rows then replace the lost attempt's instead of appearing twice.
    """
    new = {row[key] for row in rows}
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() and new else []
    kept = [line for line in lines if line.strip() and json.loads(line).get(key) not in new]
    if len(kept) == len([line for line in lines if line.strip()]):  # nothing to replace
        append_jsonl(path, rows)
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    append_jsonl(tmp, rows)
    tmp.replace(path)


def write_best(
    run_dir: Path, prompt: Prompt, info: dict[str, Any], template: str, verbalizers: dict[str, str]
) -> None:
    """Write ``best_prompt.md`` (usable anywhere, and by ``--prompt-file``) and its JSON."""
    full = replace(
        prompt,
        template=prompt.template or template,
        verbalizers={**verbalizers, **(prompt.verbalizers or {})},
    )
    write_atomic(run_dir / BEST_MD, full.to_markdown())
    write_atomic(
        run_dir / BEST_JSON,
        json.dumps(
            {"prompt": full.to_dict(), "text": full.text, **info}, indent=2, ensure_ascii=False
        ),
    )
