"""Side-by-side benchmark: tasks x methods x seeds at an equal budget of target-LM examples.

Every method uses the same target model (the embedded SmolLM2-135M; it is also the
operator LM), the same train (reward) / dev (selection) / test splits, the GFlowPO frame
and label words frozen, and the same budget of target-LM example evaluations on train.
The final prompt is chosen on dev and scored on test once (in the quick profile, on a
fixed seeded sample of the test split, the same for every method).

Methods (bench/common.py, from flowpo's one registry, flowpo.methods): the baselines
manual, fewshot, ape, opro, protegi (flowpo/baselines, run here on a fresh model per
cell), the graph methods promptflow-msgd and promptflow-msgd-rl (PromptFlow with either
selector update), gflowpo and hybrid (flowpo.optimize); and, bench-only, dspy-copro and
dspy-mipro (bench/dspy_peer.py; they need dspy and an OpenAI-compatible server of the
embedded model).

Resumable: every finished (task, method, seed, budget) cell is appended to the results
JSON at once; a re-run skips finished cells.

``--medium`` (issue 19, each system in its natural mode, bench/medium.py) has its own
arms, report and results file (bench/results/bench_medium.json).

Usage:
  python bench/run.py --medium --tasks sst2 --seeds 13 --methods manual,knn,flowpo
  python bench/run.py --medium --report  # tables, significance, plot from the JSON
  python bench/run.py --quick            # ~30 min on 2 cores
  python bench/run.py --full             # all six GLUE + twelve II tasks, 3 seeds, 3 budgets
  python bench/run.py --quick --report   # only rewrite the tables and the plot
  python bench/run.py --tasks sst2 --methods ape,opro --seeds 13 --budgets 128
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.arms import (
    GFN_BENCH,  # noqa: E402
    run_baseline_search,  # noqa: E402
)
from bench.arms import BenchEnv as Env  # noqa: E402
from bench.common import (  # noqa: E402 - after the path is set
    BASELINE_METHODS,
    DSPY_METHODS,
    FLOWPO_METHODS,
    METHODS,
    MODEL,
    RESULTS,
    RUNS,
    cell_key,
    flowpo_method,
    load_results,
    machine,
    save_cell,
    setting,
    write_benchmarks,
)
from bench.medium import recorded_cell  # noqa: E402
from bench.report_quick import plot, report  # noqa: E402

GLUE = ["sst2", "mrpc", "rte", "qnli", "mnli", "snli"]
II = [
    "active_to_passive", "cause_and_effect", "diff", "informal_to_formal", "letters_list",
    "num_to_verbal", "rhymes", "sentence_similarity", "singular_to_plural", "synonyms",
    "translation_en-de", "translation_en-fr",
]

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "tasks": ["sst2", "singular_to_plural"],
        "seeds": [13, 42],
        "budgets": [128],
        "test_limit": 100,
        "max_new_tokens": 16,
        # generation tasks decode every example: smaller in the quick profile
        "generation": {"test_limit": 50, "max_new_tokens": 8},
        # DSPy cells take ~20 min each on a loaded 2-core machine: run them apart,
        # `--quick --methods dspy-copro,dspy-mipro --tasks sst2 --seeds 13`
        "methods": BASELINE_METHODS + FLOWPO_METHODS,
    },
    "full": {
        "tasks": GLUE + II,
        "seeds": [13, 42, 87],
        "budgets": [128, 256, 512],
        "test_limit": None,
        "max_new_tokens": 32,
    },
}


# ---- cells ------------------------------------------------------------------------------
def run_baseline(env: Env, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    from flowpo.tasks import resolve_task

    task = resolve_task(name, seed=seed)
    _, res = run_baseline_search(env, task, method, seed, budget)
    scored = env.score_test(task, res.prompt)
    test, n_test = scored["test"], scored["test_n"]
    return {
        "test": test, "test_n": n_test, "dev": res.dev, "train": res.train,
        "train_examples": res.budget["train_examples_scored"],
        "dev_examples": res.budget["dev_examples_scored"],
        "llm_calls": res.budget["llm_calls"], "llm_requests": res.budget["llm_requests"],
        "prompt": res.prompt.text, "trials": len(res.trials),
        "finalists": res.finalists,
    }


def run_flowpo(env: Env, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    import torch

    from flowpo.methods import get_method
    from flowpo.prompt import Prompt
    from flowpo.run.runner import optimize
    from flowpo.tasks import resolve_task

    torch.manual_seed(seed)
    run = RUNS / env.args.profile / f"{name}-{method}-s{seed}-b{budget}"
    shutil.rmtree(run, ignore_errors=True)
    base, kwargs = flowpo_method(method)
    kwargs["method"] = base
    if get_method(base).samples:
        # One GFlowPO step scores batch x accumulation prompts on the whole train split
        # (4 x 4 x 32 = 512 examples with the authors' defaults) and flowpo checks the
        # budget between epochs: one step of 4 prompts per epoch lets the budget stop it.
        kwargs.update(GFN_BENCH)
    result = optimize(
        task=name, seed=seed, data_seed=seed, run_dir=run, budget_examples=budget,
        max_epochs=100, edit_format=False, use_memory=False, evaluate_test=False,
        max_new_tokens=setting(env.profile, resolve_task(name), "max_new_tokens"), **kwargs,
    )
    best = json.loads((run / "best_prompt.json").read_text())
    prompt = Prompt.from_dict(best["prompt"])
    scored = env.score_test(resolve_task(name, seed=seed), prompt)
    test, n_test = scored["test"], scored["test_n"]
    b = result.get("budget", {})
    return {
        "test": test, "test_n": n_test, "dev": result["final"]["dev"],
        "train": result["final"]["train"],
        "train_examples": int(b.get("examples_scored", 0)),
        "dev_examples": int(b.get("dev_examples_scored", 0)),
        "llm_calls": int(b.get("llm_calls", 0)), "llm_requests": None,
        "prompt": prompt.text, "epochs": result.get("epochs"),
        "stop_reason": result.get("stop_reason"), "run_dir": str(run),
        "settings": {k: v for k, v in kwargs.items() if k.startswith("gfn_")},
    }


def run_cell(env: Env, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        if method in BASELINE_METHODS:
            return run_baseline(env, name, method, seed, budget)
        if method in FLOWPO_METHODS:
            return run_flowpo(env, name, method, seed, budget)
        from bench import dspy_peer

        return dspy_peer.run(env, name, method, seed, budget)

    return recorded_cell(env, (name, method, seed, budget), method in DSPY_METHODS, run)


# ---- main -------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="profile", action="store_const", const="quick")
    g.add_argument("--full", dest="profile", action="store_const", const="full")
    g.add_argument("--medium", dest="profile", action="store_const", const="medium",
                   help="issue 19: each system at its best (bench/medium.py)")
    ap.add_argument("--tasks", help="comma-separated (default: the profile's)")
    ap.add_argument("--methods", help=f"comma-separated from {','.join(METHODS)}")
    ap.add_argument("--seeds", help="comma-separated seeds (default: the profile's)")
    ap.add_argument("--budgets", "--budget", dest="budgets",
                    help="comma-separated budgets (default: the profile's)")
    ap.add_argument("--test-limit", type=int, help="test examples per task (override)")
    ap.add_argument("--threads", type=int,
                    help="torch threads (1 on a shared machine: 2 threads under a load of 8 "
                         "decoded ~10x slower than 1)")
    ap.add_argument("--out", type=Path,
                    help="results JSON (default bench/results/bench_<profile>.json)")
    ap.add_argument("--server", default=os.environ.get("FLOWPO_BENCH_SERVER"),
                    help="OpenAI-compatible base URL of the embedded model for DSPy "
                         "(default: start 'flowpo serve-model' when it exists)")
    ap.add_argument("--report", action="store_true", help="only rewrite tables and plot")
    ap.add_argument("--no-benchmarks-md", action="store_true",
                    help="do not write the tables into BENCHMARKS.md (never written with --out)")
    return ap


def main() -> None:
    ap = parser()
    args = ap.parse_args()
    args.profile = args.profile or "quick"
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.profile == "medium":
        from bench.medium_main import main_medium

        main_medium(args, ap)
        return
    profile = dict(PROFILES[args.profile])
    if args.test_limit:
        profile["test_limit"] = args.test_limit
        profile["generation"] = {**profile.get("generation", {}), "test_limit": args.test_limit}
    tasks = args.tasks.split(",") if args.tasks else profile["tasks"]
    methods = args.methods.split(",") if args.methods else profile.get("methods", METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown methods {unknown}; choose from {METHODS}")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else profile["seeds"]
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else profile["budgets"]
    out = args.out or RESULTS / f"bench_{args.profile}.json"
    data = load_results(out)
    meta = data.setdefault("meta", {})
    meta.setdefault("started", time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
    meta.setdefault("command", "python bench/run.py " + " ".join(sys.argv[1:]))
    meta.update(machine=machine(), profile=args.profile, test_limit=profile["test_limit"],
                max_new_tokens=profile["max_new_tokens"], model=MODEL,
                generation=profile.get("generation", {}))
    if not args.report:
        env = Env(profile, args)
        done = {cell_key(c) for c in data["cells"] if c["status"] == "ok"}
        # task by task, so a stopped run has whole tasks (every method and seed) done
        grid = [(t, m, s, b) for t in tasks for b in budgets for s in seeds for m in methods]
        for i, (t, m, s, b) in enumerate(grid):
            key = f"{t}|{m}|{s}|{b}"
            if key in done:
                continue
            if key in {cell_key(c) for c in load_results(out)["cells"] if c["status"] == "ok"}:
                continue  # another harness process finished it meanwhile
            cell = run_cell(env, t, m, s, b)
            meta["updated"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            data = save_cell(out, cell, meta)
            shown = f"test {cell['test']:.3f} train-ex {cell['train_examples']} " \
                    f"llm {cell['llm_calls']}" if cell["status"] == "ok" else cell["status"]
            print(f"[{i + 1}/{len(grid)}] {key}: {shown} "
                  f"({cell.get('seconds', 0):.0f} s)", flush=True)
    section = report(data, args.profile)
    (out.with_suffix(".md")).write_text(section)
    plot(data, out.with_suffix(".svg"))
    if not args.no_benchmarks_md and args.out is None:  # only the default file's table
        write_benchmarks(section, args.profile)
    print(section)


if __name__ == "__main__":
    main()
