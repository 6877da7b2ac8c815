"""The README's main job (`make run`'s optimize step) measured the way a user meets it.

`make run` installs, then runs ``python -m flowpo optimize --task sst2 --max-epochs 5``
with the machine's default memory. A user's first run meets an empty memory; later runs read
what earlier runs stored (the Q warm start, near-duplicate scores, sections for RAG). This
script runs that same command ``--runs`` times against one new memory directory, so run 1 is
a new machine's and run k reads runs 1..k-1, and records each run; ``--record RUN_DIR``
records a run of the same command made elsewhere (e.g. by ``make run`` on a fresh clone,
whose run directory it prints at the end). Resumable: finished runs are kept.

  python bench/make_run.py --runs 2 --series s1     # again with --series s1 to resume
  python bench/make_run.py --record runs/sst2-promptflow-<stamp> --label "make run, fresh clone"
  python bench/make_run.py --report

Each row: test/dev/train before -> after, examples scored, operator-LM calls, seconds, the
frame and label words chosen, and whether the prompt's text names only its label words.
Results in ``bench/results/make_run.json``; the table in BENCHMARKS.md (``bench:make-run``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import RESULTS, commit, load_results, machine, save_cell, write_benchmarks

from flowpo.prompt import Prompt
from flowpo.search.coherence import stale_words
from flowpo.tasks import load_task

PATH = RESULTS / "make_run.json"
COMMAND = ["-m", "flowpo", "optimize", "--task", "sst2", "--max-epochs", "5"]
"""The Makefile's ``run`` target after ``install`` (keep the two equal)."""


def record(
    run_dir: Path, label: str, seconds: float | None = None, code: str | None = None
) -> dict[str, Any]:
    """Return one row from a finished run directory of the make-run command.

    ``code`` is the commit the run ran (default: the checkout's); the date is the run's end.
    """
    result_file = run_dir / "best_prompt.json"
    if not result_file.is_file():
        raise SystemExit(f"{run_dir}: no best_prompt.json (the run did not finish). Fix: "
                         "give the run directory the optimize command printed at its end")
    result = json.loads(result_file.read_text())
    prompt = Prompt.from_dict(result["prompt"])
    task = load_task("sst2")
    budget = result.get("budget", {})
    return {
        "task": "sst2", "method": label, "seed": 0, "budget": 0,
        "initial": result["initial"], "final": result["final"],
        "examples": budget.get("examples_scored"), "llm_calls": budget.get("llm_calls"),
        "seconds": round(seconds if seconds is not None else budget.get("seconds", 0), 1),
        "memory_read": result.get("memory_read"), "warm_start": result.get("warm_start"),
        "frame": prompt.template or task.template, "label_words": prompt.verbalizers,
        "calibrate": prompt.calibrate, "stale_words": stale_words(prompt, task),
        "run_dir": str(run_dir), "commit": code or commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result_file.stat().st_mtime)),
    }


def run_once(memory: Path, run_dir: Path) -> float:
    """Run the make-run command with ``memory`` as the default memory; return its seconds."""
    env = {**os.environ, "FLOWPO_MEMORY": str(memory), "HF_HUB_OFFLINE": "1"}
    start = time.time()
    subprocess.run([sys.executable, *COMMAND, "--run-dir", str(run_dir)], env=env, check=True)
    return time.time() - start


def report(data: dict[str, Any]) -> str:
    lines = [
        f"Command: `python {' '.join(COMMAND)}` (the Makefile's `run` after `install`); "
        f"machine: {machine()}. Run k of a series reads the memory runs 1..k-1 wrote.",
        "",
        "| run | date | commit | test before -> after | dev | train | examples | LM calls "
        "| seconds | memory records read | frame | label words | coherent |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for c in data["cells"]:
        words = "/".join((c["label_words"] or {}).values()) or "task's"
        frame = (c["frame"] or "").replace("{prompt}", "").strip().replace("\n", "⏎")
        lines.append(
            f"| {c['method']} | {c['date']} | {c['commit']} | {c['initial']['test']:.4f} -> "
            f"**{c['final']['test']:.4f}** | {c['final']['dev']:.4f} | "
            f"{c['final']['train']:.4f} | {c['examples']:g} | {c['llm_calls']} | "
            f"{c['seconds']:.0f} | {c['memory_read']} | `{frame}` | {words}"
            f"{' (calibrated)' if c['calibrate'] else ''} | "
            f"{'yes' if not c['stale_words'] else 'no: ' + ', '.join(c['stale_words'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=2, help="runs sharing one new memory")
    ap.add_argument("--series", default=None, help="name of the series (default: the date)")
    ap.add_argument("--record", type=Path, help="record this finished run directory instead")
    ap.add_argument("--label", default="make run", help="row name for --record")
    ap.add_argument("--commit", default=None,
                    help="the commit the --record run ran (default: this checkout's)")
    ap.add_argument("--report", action="store_true", help="only write the table")
    args = ap.parse_args()
    meta = {"machine": machine(), "updated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.record:
        save_cell(PATH, record(args.record, args.label, code=args.commit), meta)
    elif not args.report:
        series = args.series or time.strftime("%Y%m%d-%H%M", time.gmtime())
        root = Path("runs") / "bench" / "make_run" / series
        memory = root / "memory"
        done = {c["method"] for c in load_results(PATH)["cells"]}
        for k in range(1, args.runs + 1):
            label = f"series {series}, run {k} of {args.runs}"
            if label in done:
                continue
            run_dir = root / f"run{k}"
            shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished run starts again
            seconds = run_once(memory, run_dir)
            save_cell(PATH, record(run_dir, label, seconds), meta)
    table = report(load_results(PATH))
    print(table)
    write_benchmarks(table, "make-run")


if __name__ == "__main__":
    main()
