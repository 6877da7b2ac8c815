"""Run flowpo on bad inputs and write docs/bad-inputs.md: each command and what it printed.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python tools/bad_inputs.py [--out docs/bad-inputs.md]

Every case runs the real CLI (``flowpo.cli.main``) in this process, in a scratch
directory holding the bad files, so the table shows exactly what a user sees. Nothing
loads a model: remote specs point at a closed port on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path

from flowpo.cli import main

DEAD = "openai-compatible:http://127.0.0.1:9/v1#none"  # nothing listens on port 9
GOOD_ROWS = [{"input": f"text {i}", "target": "neg" if i % 2 else "pos"} for i in range(8)]


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


FILES: dict[str, str | bytes] = {
    "latin1.csv": "input,target\ncaf\xe9 au lait,pos\n".encode("latin-1"),
    "empty.jsonl": "",
    "blank.jsonl": "\n  \n",
    "broken.jsonl": '{"input": "a", "target": "pos"}\n{"input": "b", "target": \n',
    "array.jsonl": '["a", "pos"]\n',
    "no_target.jsonl": '{"input": "a", "label": "pos"}\n',
    "dup_ids.jsonl": jsonl(
        [{"id": "7", "input": "a", "target": "pos"}, {"id": "7", "input": "b", "target": "neg"}]
    ),
    "odd_label.jsonl": jsonl(GOOD_ROWS + [{"input": "x", "target": "maybe"}]),
    "extra_col.csv": "input,target\nhello, world,pos\n",
    "dup_header.csv": "input,input,target\na,b,pos\n",
    "bad_split.jsonl": jsonl([{**r, "split": "training"} for r in GOOD_ROWS]),
    "blank_input.jsonl": jsonl([{"input": "   ", "target": "pos"}]),
    "huge.jsonl": jsonl(
        [
            {"input": "word " * 5000 if i == 2 else f"text {i}", "target": r["target"]}
            for i, r in enumerate(GOOD_ROWS)
        ]
    ),
    "reviews.jsonl": jsonl(GOOD_ROWS),
    "latin1.md": "# task\n\nD\xe9cide.\n".encode("latin-1"),
    "unclosed.md": "---\ntemplate: '{prompt} {text}'\n\n# task\n\nDecide.\n",
    "noslot.md": "---\ntemplate: 'Review: {prompt}'\n---\n# task\n\nDecide.\n",
    "twice.md": "# task\n\nDecide.\n\n# format\n\nOne word.\n\n# task\n\nAgain.\n",
    "huge.md": "# task\n\n" + "Decide. " * 40_000,
    "frozen.md": "# task (frozen)\n\nDecide.\n",
    "bad_records.jsonl": '{"kind": "section", "text": "x"}\n',
    "not_json_records.jsonl": "kind=section text=x\n",
    "latin1_records.jsonl": '{"text": "caf\xe9"}\n'.encode("latin-1"),
}

EVAL = ["eval", "--quiet", "--cache", "cache.sqlite"]
OPT = ["optimize", "--quiet", "--use-memory", "false"]
CASES: list[tuple[str, list[str], dict[str, str]]] = [
    # (what is wrong, arguments after `flowpo`, environment)
    ("data file missing", [*EVAL, "--task", "missing.jsonl"], {}),
    ("data file not UTF-8", [*EVAL, "--task", "latin1.csv"], {}),
    ("data file empty", [*EVAL, "--task", "empty.jsonl"], {}),
    ("data file of blank lines", [*EVAL, "--task", "blank.jsonl"], {}),
    ("line is not JSON", [*EVAL, "--task", "broken.jsonl"], {}),
    ("line is a JSON array", [*EVAL, "--task", "array.jsonl"], {}),
    ("target field missing", [*EVAL, "--task", "no_target.jsonl"], {}),
    ("duplicate ids", [*EVAL, "--task", "dup_ids.jsonl"], {}),
    ("label outside --labels", [*EVAL, "--task", "odd_label.jsonl", "--labels", "neg,pos"], {}),
    ("CSV row with more values than columns", [*EVAL, "--task", "extra_col.csv"], {}),
    ("CSV header repeats a column", [*EVAL, "--task", "dup_header.csv"], {}),
    ("unknown split name", [*EVAL, "--task", "bad_split.jsonl"], {}),
    ("input only whitespace", [*EVAL, "--task", "blank_input.jsonl"], {}),
    (
        "enormous input (cut, with a warning), then an unreachable server",
        [
            *EVAL,
            "--task",
            "huge.jsonl",
            "--split",
            "train",
            "--model",
            DEAD,
            "--max-retries",
            "1",
            "--retry-backoff",
            "0",
        ],
        {},
    ),
    ("verbalizers: wrong count", [*EVAL, "--task", "sst2", "--verbalizers", "no,yes,maybe"], {}),
    ("file-only option on a built-in task", [*EVAL, "--task", "sst2", "--labels", "a,b"], {}),
    ("unknown built-in task", [*EVAL, "--task", "sst3"], {}),
    ("template without {text}", [*EVAL, "--task", "sst2", "--template", "Review: {prompt}"], {}),
    ("prompt file missing", [*EVAL, "--task", "sst2", "--prompt-file", "nope.md"], {}),
    ("prompt file not UTF-8", [*EVAL, "--task", "sst2", "--prompt-file", "latin1.md"], {}),
    ("prompt file is a directory", [*EVAL, "--task", "sst2", "--prompt-file", "."], {}),
    ("front matter never closed", [*EVAL, "--task", "sst2", "--prompt-file", "unclosed.md"], {}),
    ("front-matter template without {text}", [*EVAL, "--prompt-file", "noslot.md"], {}),
    ("two sections with one name", [*EVAL, "--task", "sst2", "--prompt-file", "twice.md"], {}),
    ("enormous prompt file", [*EVAL, "--task", "sst2", "--prompt-file", "huge.md"], {}),
    ("both --prompt and --prompt-file", [*EVAL, "--prompt", "x", "--prompt-file", "twice.md"], {}),
    ("bad --split", [*EVAL, "--split", "validation"], {}),
    ("--max-epochs 0", [*OPT, "--max-epochs", "0"], {}),
    ("--max-input-chars too small", [*OPT, "--max-input-chars", "5"], {}),
    ("negative budget", [*OPT, "--budget-examples", "-5"], {}),
    ("unknown optimizer", [*OPT, "--optimizer", "adam"], {}),
    ("unknown model provider", [*OPT, "--model", "hf:gpt2"], {}),
    ("malformed OpenAI-compatible spec", [*OPT, "--model", "openai-compatible:localhost#x"], {}),
    ("environment variable of the wrong type", [*OPT], {"FLOWPO_BATCH_SIZE": "lots"}),
    ("unknown flag", [*OPT, "--epochs", "3"], {}),
    (
        "unknown operator",
        [
            *OPT,
            "--task",
            "reviews.jsonl",
            "--model",
            DEAD,
            "--operators",
            "refine,magic",
            "--run-dir",
            "runs/ops",
        ],
        {},
    ),
    (
        "template with every section frozen",
        [
            *OPT,
            "--task",
            "reviews.jsonl",
            "--model",
            DEAD,
            "--start",
            "template",
            "--prompt-file",
            "frozen.md",
            "--run-dir",
            "runs/frozen",
        ],
        {},
    ),
    (
        "target server down (retries spent; run resumable)",
        [
            *OPT,
            "--task",
            "reviews.jsonl",
            "--model",
            DEAD,
            "--max-retries",
            "2",
            "--retry-backoff",
            "0.05",
            "--run-dir",
            "runs/down",
        ],
        {},
    ),
    ("resume a directory that is no run", ["resume", "."], {}),
    (
        "memory import: not UTF-8",
        ["memory", "import", "latin1_records.jsonl", "--memory-dir", "mem"],
        {},
    ),
    (
        "memory import: line is not JSON",
        ["memory", "import", "not_json_records.jsonl", "--memory-dir", "mem"],
        {},
    ),
    (
        "memory import: record misses fields",
        ["memory", "import", "bad_records.jsonl", "--memory-dir", "mem"],
        {},
    ),
]


def run_case(argv: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run ``flowpo argv``; return its exit status, what it printed and the seconds taken."""
    out = io.StringIO()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    start = time.perf_counter()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.formatwarning = lambda m, c, *a, **k: f"warning: {m}\n"
                try:
                    main(argv)
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else 1
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue().strip(), time.perf_counter() - start


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def main_(out_path: Path) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in FILES.items():
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            (Path(tmp) / name).write_bytes(data)
        old = Path.cwd()
        os.chdir(tmp)
        sys.argv[0] = "flowpo"  # what click's usage lines name
        try:
            for what, argv, env in CASES:
                code, text, seconds = run_case(argv, env)
                text = text.replace(tmp, ".")
                shown = " ".join(f"{k}={v}" for k, v in env.items())
                command = f"{shown} flowpo {shlex.join(argv)}".strip()
                rows.append((what, command, code, text, seconds))
                print(f"{code:>3} {seconds:5.1f}s {what}", file=sys.stderr)
        finally:
            os.chdir(old)
    lines = [
        "# Bad inputs and what flowpo says",
        "",
        "Generated by `PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python tools/bad_inputs.py`: each row",
        "ran the command in a scratch directory holding the bad file. Exit status 2 is a user",
        "error (what, where, fix), 130 a stop that can be resumed; `port 9` is a closed port",
        "standing for an unreachable model server.",
        "",
        "| # | bad input | command | exit | what flowpo printed |",
        "|---|---|---|---|---|",
    ]
    for i, (what, command, code, text, _) in enumerate(rows, 1):
        lines.append(f"| {i} | {cell(what)} | `{cell(command)}` | {code} | {cell(text)} |")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = [r for r in rows if r[2] == 0 or "Traceback" in r[3]]
    print(
        f"{len(rows)} bad inputs, {len(bad)} without a clean error -> {out_path}", file=sys.stderr
    )
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/bad-inputs.md"))
    main_(parser.parse_args().out.resolve())
