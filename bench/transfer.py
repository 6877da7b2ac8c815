"""Transfer through the experience memory: a related task with and without what a run learnt.

Optimizes ``--source`` (default sst2) into a fresh memory, then ``--target`` (default mr)
twice: reading that memory, and with the memory off. For each target run it follows the
best-by-train prompt of every epoch, scores it on dev (a measurement, not charged to the
run), and reports the target-LM examples the run had scored when it first matched the
no-memory run's final dev score, and the final test score
(bench/results/transfer_<source>_<target>.json).

Usage: python bench/transfer.py [--source sst2] [--target mr] [--max-epochs 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from flowpo.graphs.resources import resources
from flowpo.prompt import Prompt
from flowpo.run.rundir import CANDIDATES, HISTORY
from flowpo.run.runner import optimize
from flowpo.run.settings import load_config

KEPT = ("initial", "final", "epochs", "budget", "warm_start")


def dev_curve(run: Path) -> list[dict[str, Any]]:
    """Return, per epoch, cumulative train examples scored and the best prompt's dev score."""
    res = resources(load_config(run))
    dev = res.task.split("dev")
    prompts = {}
    for line in (run / CANDIDATES).read_text().splitlines():
        cand = json.loads(line)
        prompts[cand["id"]] = cand["prompt"]
    curve = []
    for line in (run / HISTORY).read_text().splitlines():
        row = json.loads(line)
        if row.get("summary") or not row.get("best_id"):
            continue
        score = res.evaluator.evaluate(Prompt.from_dict(prompts[row["best_id"]]), dev).score
        examples = row["budget"].get("examples_scored", 0.0)
        curve.append({"epoch": row["epoch"], "examples_scored": examples, "dev": score})
    return curve


def reached(curve: list[dict[str, Any]], goal: float) -> float | None:
    """Return the examples scored when the curve first reached ``goal`` on dev."""
    return next((p["examples_scored"] for p in curve if p["dev"] >= goal - 1e-9), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default="sst2")
    ap.add_argument("--target", default="mr")
    ap.add_argument("--max-epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = Path("runs") / f"transfer-{args.source}-{args.target}-s{args.seed}"
    shutil.rmtree(root, ignore_errors=True)
    memory = root / "memory"
    common = {"max_epochs": args.max_epochs, "seed": args.seed}
    start = time.perf_counter()
    source = optimize(
        task=args.source, use_memory=True, memory_dir=memory, run_dir=root / "source", **common
    )
    print(f"{args.source}: test {source['initial']['test']:.4f} -> {source['final']['test']:.4f}"
          f" ({time.perf_counter() - start:.0f} s)", flush=True)
    rows = {}
    for name, use in (("with_memory", True), ("without_memory", False)):
        start = time.perf_counter()
        run = root / name
        result = optimize(
            task=args.target, use_memory=use, memory_dir=memory, run_dir=run, **common
        )
        rows[name] = {
            "result": {k: result[k] for k in KEPT},
            "wall_seconds": time.perf_counter() - start,
            "curve": dev_curve(run),
            "best_prompt": (run / "best_prompt.md").read_text(),
        }
    goal = rows["without_memory"]["result"]["final"]["dev"]
    for name, row in rows.items():
        row["examples_to_reach_no_memory_final_dev"] = reached(row["curve"], goal)
        r = row["result"]
        print(f"{args.target} {name}: test {r['initial']['test']:.4f} -> {r['final']['test']:.4f}"
              f", dev {r['final']['dev']:.4f}, {int(r['budget']['examples_scored'])} train "
              f"examples, reached {goal:.4f} dev after "
              f"{row['examples_to_reach_no_memory_final_dev']} examples, "
              f"warm start {r['warm_start']}, {row['wall_seconds']:.0f} s", flush=True)
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "source": args.source,
        "target": args.target,
        "max_epochs": args.max_epochs,
        "seed": args.seed,
        "source_result": {k: source[k] for k in ("initial", "final", "epochs", "budget")},
        "goal_dev": goal,
        "runs": rows,
    }
    path = Path(__file__).parent / "results" / f"transfer_{args.source}_{args.target}.json"
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
