"""PromptFlow optimization vs the initial and the manual prompt, GFlowPO protocol.

For each task (default: sst2 and rte), runs ``flowpo optimize`` with the embedded target
(GFlowPO template and verbalizers frozen, reward = train split, selection on dev, test
reported once), scores the task's manual prompt on test in the same process, and prints
and records before/after, epochs, target-LM examples scored and wall time
(bench/results/optimize_glue.json).

Usage: python bench/optimize_glue.py [--tasks sst2,rte] [--max-epochs 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from flowpo.evaluation import EvalCache, Evaluator
from flowpo.graphs.resources import resources
from flowpo.prompt import Prompt
from flowpo.run.runner import optimize
from flowpo.run.settings import load_config
from flowpo.tasks.manual import manual_prompt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="sst2,rte")
    ap.add_argument("--max-epochs", type=int, default=5)
    ap.add_argument("--optimizer", default="msgd-rl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--edit-format", action="store_true",
                    help="flowpo's default mode (frame and label words trainable) instead of "
                         "the GFlowPO protocol (frozen)")
    args = ap.parse_args()
    rows = []
    for name in args.tasks.split(","):
        mode = "format" if args.edit_format else "frozen"
        run = Path("runs") / f"bench-{name}-{args.optimizer}-{mode}-s{args.seed}"
        shutil.rmtree(run, ignore_errors=True)
        start = time.perf_counter()
        result = optimize(task=name, max_epochs=args.max_epochs, optimizer=args.optimizer,
                          edit_format=args.edit_format,
                          seed=args.seed, run_dir=run)
        seconds = time.perf_counter() - start
        res = resources(load_config(run))
        manual = Evaluator(res.task, res.target, cache=EvalCache()).evaluate(
            Prompt.from_text(manual_prompt(res.task)), res.task.split("test"))
        rows.append({
            "task": name, "optimizer": args.optimizer, "seed": args.seed, "mode": mode,
            "manual_test": manual.score, "initial_test": result["initial"]["test"],
            "final_test": result["final"]["test"], "final_dev": result["final"]["dev"],
            "initial_dev": result["initial"]["dev"], "epochs": result["epochs"],
            "train_examples_scored": result["budget"]["examples_scored"],
            "operator_llm_calls": result["budget"].get("llm_calls", 0),
            "wall_seconds": seconds, "stop_reason": result["stop_reason"],
            "run_dir": str(run),
            "best_prompt": (run / "best_prompt.md").read_text(),
        })
        r = rows[-1]
        print(f"{name}: manual {r['manual_test']:.4f} | initial {r['initial_test']:.4f} -> "
              f"final {r['final_test']:.4f} (dev {r['initial_dev']:.4f} -> {r['final_dev']:.4f}) "
              f"| {r['epochs']} epochs, {int(r['train_examples_scored'])} train examples, "
              f"{int(r['operator_llm_calls'])} LLM calls, {seconds:.0f} s", flush=True)
    mode = "format" if args.edit_format else "frozen"
    path = Path(__file__).parent / "results" / f"optimize_glue_{args.optimizer}_{mode}.json"
    path.parent.mkdir(exist_ok=True)
    # earlier rows of other tasks or seeds stay: one file holds every task measured
    kept = json.loads(path.read_text())["rows"] if path.is_file() else []
    fresh = {(r["task"], r["seed"]) for r in rows}
    rows = [r for r in kept if (r["task"], r["seed"]) not in fresh] + rows
    out = {"date": time.strftime("%Y-%m-%d"), "rows": rows}
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
