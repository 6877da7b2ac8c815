"""Startup cost: model load and an all-cached `flowpo eval`, before and after the weights cache.

Usage: python bench/startup.py [--dtype auto] [--repeats 3] [--no-write]

Every measure runs in a fresh Python process (what a user pays per command):

* before: the GGUF file is dequantized in every process (``load_causal_lm(..., cache=False)``,
  and ``flowpo eval`` loaded the model eagerly before looking at its result cache);
* after: the dequantized weights come from the flowpo cache (cold = the first process,
  which dequantizes and writes the cache; warm = every later one), and an eval whose
  answers are all cached loads no model.

The table goes into BENCHMARKS.md between markers (with the command, date and machine) and
the raw numbers into bench/results/startup.json. It is CPU heavy: run nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, write_benchmarks

ROOT = Path(__file__).resolve().parent
LOAD = """
import json, sys, time
t0 = time.perf_counter()
from flowpo.models.loading import load_causal_lm
t1 = time.perf_counter()
import transformers.models.llama.modeling_llama
t2 = time.perf_counter()
load_causal_lm("smollm2-135m", "cpu", sys.argv[1], cache=sys.argv[2] == "cache")
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "library": t2 - t1, "load": t3 - t2}))
"""
EAGER_EVAL = """
import sys
from flowpo.models.loading import load_causal_lm
from flowpo.models.device import pick_dtype
load_causal_lm("smollm2-135m", "cpu", pick_dtype(sys.argv[1], "cpu"), cache=False)
from flowpo.cli import main
main(sys.argv[2:])
"""


def child(code: str, *args: str, env: dict[str, str]) -> tuple[float, str, str]:
    """Run ``python -c code args`` in a fresh process; return (wall s, stdout, stderr)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-2000:]}")
    return wall, done.stdout, done.stderr


def load_times(dtype: str, mode: str, env: dict[str, str]) -> dict[str, float]:
    """Return one fresh process's import, load and wall seconds."""
    from flowpo.models.device import pick_dtype

    wall, out, _ = child(LOAD, pick_dtype(dtype, "cpu"), mode, env=env)
    return {**json.loads(out.strip().splitlines()[-1]), "wall": wall}


def eval_args(work: Path, dtype: str) -> list[str]:
    return [
        "eval", "--task", "sst2", "--split", "dev", "--dtype", dtype,
        "--cache", str(work / "eval.sqlite"), "--output", str(work / "eval.json"),
    ]  # fmt: skip


def measure(dtype: str, repeats: int) -> dict[str, object]:
    """Run every measure; return the raw numbers."""
    work = Path(tempfile.mkdtemp(prefix="flowpo-startup-"))
    env = {**os.environ, "FLOWPO_CACHE_DIR": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
    out: dict[str, object] = {}
    out["before_load"] = [load_times(dtype, "gguf", env) for _ in range(repeats)]
    out["after_cold"] = load_times(dtype, "cache", env)  # empty cache: dequantize + write
    out["after_warm"] = [load_times(dtype, "cache", env) for _ in range(repeats)]
    run = [sys.executable, "-m", "flowpo", *eval_args(work, dtype)]
    subprocess.run([*run, "--quiet"], env=env, check=True, capture_output=True)  # fill
    befores, afters, loaded = [], [], []
    for _ in range(repeats):
        befores.append(child(EAGER_EVAL, dtype, *eval_args(work, dtype), "--quiet", env=env)[0])
        start = time.perf_counter()
        done = subprocess.run(run, env=env, check=True, capture_output=True, text=True)
        afters.append(time.perf_counter() - start)
        loaded.append("loading model" in done.stderr)
    out["before_eval"], out["after_eval"], out["after_eval_loaded_model"] = befores, afters, loaded
    out["eval_line"] = done.stdout.strip()
    return out



def table(raw: dict, dtype: str, repeats: int) -> str:
    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):.1f}"

    before = raw["before_load"]
    warm = raw["after_warm"]
    cold = raw["after_cold"]
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    def total(r: dict) -> float:
        return float(r["library"] + r["load"])

    rows = [
        "| measure (fresh process each, s) | before: GGUF every time | after: weights cache |",
        "|---|---:|---:|",
        f"| model load, cold (first process) | {before[0]['load']:.1f} | "
        f"{cold['load']:.1f} (dequantize once + write) |",
        f"| model load, warm (median of {repeats}) | {med([b['load'] for b in before])} | "
        f"**{med([w['load'] for w in warm])}** |",
        f"| the same plus importing transformers' Llama code | "
        f"{med([total(b) for b in before])} | {med([total(w) for w in warm])} |",
        f"| process wall time of a warm load (Python, torch, flowpo imports too) | "
        f"{med([b['wall'] for b in before])} | {med([w['wall'] for w in warm])} |",
        f"| `flowpo eval` on an all-cached prompt (median of {repeats}) | "
        f"{med(raw['before_eval'])} | **{med(raw['after_eval'])}** |",
        f"| ... did it load a model? | yes | "
        f"{'yes' if any(raw['after_eval_loaded_model']) else 'no'} |",
    ]
    return "\n".join(
        [
            "## Startup: model load and an all-cached eval (issue 18): `bench/startup.py`",
            "",
            f"Command: `python bench/startup.py --dtype {dtype} --repeats {repeats}`, {when}. "
            f"Machine: {machine()}, shared with other jobs. The embedded model, dtype "
            f"`{dtype}`; eval = `flowpo eval --task sst2 --split dev` with every answer in "
            "its result cache. Before = the GGUF file dequantized in every process (and "
            "`eval` loading the model eagerly); after = the dense copy in the flowpo cache. "
            "Model load = tokenizer and weights, timed after the transformers Llama modules "
            "are imported (that import is the next row: it costs the same either way).",
            "",
            *rows,
            "",
            f"Eval output: `{raw['eval_line']}`",
        ]
    )



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="auto", help="auto, float32 or bfloat16")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per warm measure")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = ap.parse_args()
    raw = measure(args.dtype, args.repeats)
    results = ROOT / "results"
    results.mkdir(exist_ok=True)
    (results / "startup.json").write_text(json.dumps(raw, indent=1))
    section = table(raw, args.dtype, args.repeats)
    print(section)
    if not args.no_write:
        write_benchmarks(section, "startup")


if __name__ == "__main__":
    main()
