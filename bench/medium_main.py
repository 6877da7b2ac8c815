"""``python bench/run.py --medium``: choose the cells, run them (resumable), write the report."""

from __future__ import annotations

import argparse
from typing import Any

from bench import medium
from bench.common import MODEL, RESULTS, load_results, write_benchmarks
from bench.report_medium import plot, report


def main_medium(args: argparse.Namespace, ap: argparse.ArgumentParser) -> None:
    """Run the chosen medium cells (skipping finished ones), then rewrite tables and plot."""
    profile: dict[str, Any] = dict(medium.PROFILE)
    if args.test_limit:
        profile["test_limit"] = args.test_limit
    tasks = args.tasks.split(",") if args.tasks else profile["tasks"]
    methods = args.methods.split(",") if args.methods else profile["methods"]
    unknown = [m for m in methods if m not in medium.METHODS]
    if unknown:
        ap.error(f"unknown methods {unknown}; choose from {medium.METHODS}")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else profile["seeds"]
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else profile["budgets"]
    if args.budgets:  # the curve at a quarter, half and all of the largest budget
        profile["checkpoints"] = [max(budgets) // 4, max(budgets) // 2, max(budgets)]
    out = args.out or RESULTS / "bench_medium.json"
    if not args.report:
        # task by task, so a stopped run has whole tasks done
        grid = [(t, m, s, b) for t in tasks for b in budgets for s in seeds for m in methods]
        medium.run_grid(args, profile, out, grid)
    data = load_results(out)
    if not data["cells"]:
        print(f"no finished cell in {out} yet: nothing to report")
        return
    section = report(data, medium.METHODS, medium.TASKS, medium.PEERS, MODEL)
    out.with_suffix(".md").write_text(section)
    plot(data, out.with_suffix(".svg"), medium.METHODS, medium.TASKS)
    if not args.no_benchmarks_md and args.out is None:  # only the default file's table
        write_benchmarks(section + "\n\n![test vs examples spent](bench/results/"
                         f"{out.with_suffix('.svg').name})", "medium")
    print(section)
