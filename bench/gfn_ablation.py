"""GFlowPO on one task under the frozen protocol: method ``gflowpo`` and the Table 4 rows.

Each row is one ``flowpo.optimize(method="gflowpo")`` run (the prompt is the instruction,
template and verbalizers frozen, selection on dev, test scored once) with one setting
changed: on-policy (every micro-batch freshly sampled) or off-policy (half replayed from
the top-accuracy buffer), with or without the Dynamic Memory Update of the meta-prompt.
Rows run as separate processes, ``--parallel`` at a time with one torch thread each, and
write ``bench/results/gfn_ablation_<task>.json``; a row already recorded is skipped.

Usage: python bench/gfn_ablation.py [--task sst2] [--epochs 4] [--steps 3] [--parallel 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROWS: dict[str, dict[str, Any]] = {
    "on-policy, no DMU": {"gfn_online_ratio": 1.0, "gfn_dmu": False},
    "on-policy, DMU": {"gfn_online_ratio": 1.0, "gfn_dmu": True},
    "off-policy, no DMU": {"gfn_online_ratio": 0.5, "gfn_dmu": False},
    "off-policy, DMU (gflowpo default)": {"gfn_online_ratio": 0.5, "gfn_dmu": True},
}
KEPT = ("initial", "final", "epochs", "budget", "stopped")


def settings(args: argparse.Namespace, row: dict[str, Any]) -> dict[str, Any]:
    """Return the optimize() keywords of one row."""
    return {
        "task": args.task,
        "method": "gflowpo",
        "max_epochs": args.epochs,
        "patience": args.epochs + 1,
        "seed": args.seed,
        "use_memory": False,
        "gfn_steps_per_epoch": args.steps,
        "gfn_warmup_steps": args.warmup,
        "gfn_dmu_start": args.warmup + 2,
        "gfn_batch_size": 4,
        "gfn_grad_accum": 1,
        "gfn_max_tokens": 32,
        **row,
    }


def run_one(kwargs: dict[str, Any], run_dir: str) -> None:
    """Child process: run one row and print its result as JSON on the last line."""
    from flowpo.run.runner import optimize

    start = time.perf_counter()
    result = optimize(run_dir=run_dir, **kwargs)
    out = {k: result.get(k) for k in KEPT}
    out["wall_seconds"] = round(time.perf_counter() - start, 1)
    out["best_prompt"] = (Path(run_dir) / "best_prompt.md").read_text()
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3, help="GFlowPO steps per epoch")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kwargs, run_dir = json.loads(args.child)
        run_one(kwargs, run_dir)
        return
    path = Path(__file__).parent / "results" / f"gfn_ablation_{args.task}.json"
    done: dict[str, Any] = json.loads(path.read_text())["rows"] if path.exists() else {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    todo = [name for name in ROWS if name not in done]
    running: list[tuple[str, subprocess.Popen[str]]] = []
    while todo or running:
        while todo and len(running) < args.parallel:
            name = todo.pop(0)
            kwargs = settings(args, ROWS[name])
            run_dir = f"runs/gfn-ablation-{args.task}-{len(done) + len(running)}-{int(time.time())}"
            child = json.dumps([kwargs, run_dir])
            cmd = [sys.executable, __file__, "--child", child]
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
            running.append((name, proc))
            print(f"started {name!r} in {run_dir}", flush=True)
        time.sleep(5)
        for name, proc in list(running):
            if proc.poll() is None:
                continue
            running.remove((name, proc))
            lines = (proc.stdout.read() if proc.stdout else "").strip().splitlines()
            if proc.returncode or not lines:
                print(f"{name!r} failed (exit {proc.returncode})", flush=True)
                continue
            done[name] = {"settings": settings(args, ROWS[name]), **json.loads(lines[-1])}
            r = done[name]
            print(f"{name}: test {r['initial']['test']:.4f} -> {r['final']['test']:.4f}, "
                  f"dev {r['final']['dev']:.4f}, {r['budget']['examples_scored']:.0f} train "
                  f"examples, {r['wall_seconds']:.0f} s", flush=True)
            path.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"),
                                        "task": args.task, "rows": done}, indent=2))


if __name__ == "__main__":
    main()
