"""Ablation of flowpo's learning parts at an equal example budget (default mode).

Arms (each a flowpo.optimize run; test scored once on a fixed seeded sample):

* ``learnt``: the defaults (promptflow, msgd-rl with per-action credit, screening on);
* ``uniform``: ``--selector uniform`` (uniform over the valid cells, no learning);
* ``prior``: ``--selector prior`` (the learnt selector's starting prior, no learning);
* ``no-screen``: minibatch screening off (``screen_examples=0``);
* ``gflowpo``: GFlowPO alone, trained; ``gflowpo-frozen``: the same sampler, no update;
* ``memory``: memory on, after one run on another task (``--memory-from``), vs ``learnt``.

Resumable: every finished (task, arm, seed) cell is merged into the results JSON, and a
cell already there is skipped. Run it in pieces (``--tasks``, ``--arms``, ``--seeds``):

  python bench/ablation.py --tasks sst2 --arms learnt,uniform --seeds 13
  python bench/ablation.py --report      # tables into BENCHMARKS.md from the JSON

GFlowPO cannot pay for one step at 256 examples (a step may score 16 prompts on 32 train
examples); its two arms are compared at a budget it can train with, in their own file:

  python bench/ablation.py --tasks sst2 --arms gflowpo,gflowpo-frozen --seeds 13 \
      --budget 2048 --results bench/results/ablation_gflowpo.json
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from common import (
    COMMIT,
    MODEL,
    RESULTS,
    load_results,
    machine,
    mean_std,
    save_cell,
    test_examples,
    write_benchmarks,
)

import flowpo
from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.spec import load_target
from flowpo.prompt import Prompt
from flowpo.tasks import load_task

PATH = RESULTS / "ablation.json"
RUNS = Path("runs") / "bench" / "ablation"
TASKS = ["sst2", "cr", "subj", "trec", "synonyms"]
SEEDS = [13, 42, 87]
BUDGET = 256
TEST_LIMIT = 500
MEMORY_SOURCE = {
    "sst2": "cr", "cr": "sst2", "subj": "sst2", "trec": "agnews", "synonyms": "rhymes",
}
"""The task whose run fills the memory before a ``memory`` arm (a related task)."""
ARMS: dict[str, dict[str, Any]] = {
    "learnt": {},
    "uniform": {"selector": "uniform"},
    "prior": {"selector": "prior"},
    "no-screen": {"screen_examples": 0},
    "gflowpo": {"method": "gflowpo"},
    "gflowpo-frozen": {"method": "gflowpo", "gfn_warmup_steps": 10**6},
    "memory": {"use_memory": True},
}


def run_cell(task: str, arm: str, seed: int, budget: int = BUDGET) -> dict[str, Any]:
    """Run one arm on one task and seed; return its cell (budget spent, dev, test, prompt)."""
    run_dir = RUNS / (f"{task}-{arm}-s{seed}" + (f"-b{budget}" if budget != BUDGET else ""))
    shutil.rmtree(run_dir, ignore_errors=True)
    settings = {"use_memory": False, **ARMS[arm]}
    if arm == "memory":
        memory = RUNS / f"memory-{task}-s{seed}"
        shutil.rmtree(memory, ignore_errors=True)
        flowpo.optimize(task=MEMORY_SOURCE[task], seed=seed, budget_examples=budget,
                        max_epochs=50, evaluate_test=False, use_memory=True,
                        memory_dir=str(memory), run_dir=str(memory / "source"))
        settings["memory_dir"] = str(memory)
    start = time.time()
    out = flowpo.optimize(task=task, seed=seed, budget_examples=budget, max_epochs=50,
                          evaluate_test=False, run_dir=str(run_dir), **settings)
    prompt = Prompt.from_file(run_dir / "best_prompt.md")
    return {
        "task": task, "method": arm, "seed": seed, "budget": budget,
        "spent": out["budget"].get("examples_scored", 0),
        "dev": out["final"]["dev"], "initial_dev": out["initial"]["dev"],
        "test": test_score(task, prompt), "prompt": prompt.to_markdown(),
        "seconds": round(time.time() - start, 1), "commit": COMMIT,
    }




def test_score(task_name: str, prompt: Prompt) -> float:
    """Score ``prompt`` once on the task's fixed seeded test sample (cached)."""
    task = load_task(task_name)
    ev = Evaluator(task, load_target(MODEL), cache=EvalCache(RESULTS / "ablation_cache.sqlite"))
    return asyncio.run(ev.aevaluate(prompt, test_examples(task, TEST_LIMIT))).score


def report(data: dict[str, Any]) -> str:
    """Return the ablation tables: mean ± std of test per arm and task, and the budget."""
    cells = data.get("cells", [])
    tasks = [t for t in TASKS if any(c["task"] == t for c in cells)]
    arms = [a for a in ARMS if any(c["method"] == a for c in cells)]
    meta = data.get("meta", {})
    budgets = ", ".join(str(b) for b in sorted({c.get("budget", BUDGET) for c in cells}))
    lines = [
        "Commands: " + ", ".join(f"`{c}`" for c in meta.get(
            "commands", [meta.get("command", "python bench/ablation.py")])) + "; machine: "
        f"{meta.get('machine', '?')}; updated {meta.get('updated', '?')}. Budget {budgets} "
        f"target-LM train examples per cell; test on a fixed seeded {TEST_LIMIT} (or all); "
        f"code at commit {', '.join(sorted({c.get('commit', '?') for c in cells}))}.",
        "",
        "| arm | " + " | ".join(tasks) + " | mean | examples spent (mean) |",
        "|---|" + "---|" * (len(tasks) + 2),
    ]
    for arm in arms:
        row, means = [], []
        for t in tasks:
            xs = [c["test"] for c in cells if (c["task"], c["method"]) == (t, arm)]
            row.append(mean_std(xs))
            if xs:
                means.append(statistics.mean(xs))
        spent = [c["spent"] for c in cells if c["method"] == arm]
        mean = f"{statistics.mean(means):.3f}" if len(means) == len(tasks) else "—"
        lines.append(f"| {arm} | " + " | ".join(row) + f" | {mean} | "
                     f"{statistics.mean(spent):.0f} |")
    return "\n".join(lines)



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--budget", type=int, default=BUDGET, help="target-LM train examples a cell")
    ap.add_argument("--report", action="store_true", help="only write the tables")
    ap.add_argument("--results", type=Path, default=PATH,
                    help="results JSON; its table goes between bench:<file stem> markers")
    args = ap.parse_args()
    meta = {"machine": machine(), "updated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python bench/ablation.py " + " ".join(
                f"--{k} {v}" for k, v in vars(args).items() if k not in ("report", "results"))}
    data = load_results(args.results)
    if not args.report:
        done = {(c["task"], c["method"], c["seed"], c.get("budget", BUDGET))
                for c in data["cells"]}
        for task in args.tasks.split(","):
            for arm in args.arms.split(","):
                for seed in map(int, args.seeds.split(",")):
                    if (task, arm, seed, args.budget) in done:
                        continue
                    cell = run_cell(task, arm, seed, args.budget)
                    print(f"{task} {arm} s{seed}: test {cell['test']:.3f} dev {cell['dev']}, "
                          f"{cell['spent']:g} examples", flush=True)
                    data = save_cell(args.results, cell, meta)
    if not data["cells"]:
        print(f"no finished cell in {args.results} yet: nothing to report")
        return
    table = report(data)
    print(table)
    write_benchmarks(table, args.results.stem)


if __name__ == "__main__":
    main()
