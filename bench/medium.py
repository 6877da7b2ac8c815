"""The ``--medium`` profile (issue 19): each system at its best, at an equal budget.

Natural-mode arms, all on the embedded target (local:smollm2-135m, also the operator LM),
the same train (reward) / dev (selection) / test splits per seed, a budget of 256
target-LM example evaluations on train, the final prompt chosen on dev, test scored once
on a fixed seeded sample of at most 500 examples (the same for every method):

* ``flowpo``: ``flowpo.optimize`` with its defaults (promptflow, msgd-rl, edit_format
  on: frame, label words, calibration, demos, sections trainable), memory off,
  ``max_epochs=100`` so that the budget stops it (the gated retrieving start,
  ``retrieve=4``, is a default since session 17; earlier cells of the default, without
  it, and of the opt-in ``flowpo-retrieve`` arm are in bench_medium_replaced_s17.json);
  ``flowpo-plain``: the same with ``retrieve=0``; ``flowpo-hybrid``: ``method="hybrid"``;
* ``dspy-mipro``, ``dspy-gepa``, ``dspy-bootstrap-rs``, ``dspy-copro`` (bench/dspy_plans.py,
  bench/dspy_peer.py: through ``flowpo serve-model``'s in-process server, spend counted
  there);
* ``ape``, ``opro``, ``protegi`` (GFlowPO frame, as in ``--quick``) and ``ape-frame``,
  ``opro-frame``, ``protegi-frame`` in the task's manual frame (bench/arms.py);
* ``manual``, ``manual-frame``, ``fewshot`` (4 random train demos) and ``knn`` (4 nearest
  labelled demos per test input: flowpo.evaluation.retrieval).

The curve at 64/128/256 comes from the same 256 run where the method reports its
best-so-far (flowpo's history); significance (paired bootstrap, flowpo vs the best peer)
and sample efficiency (flowpo's spend to reach the best peer's final dev) are computed by
``--report`` from the JSON only (bench/report_medium.py).

Time plan (2-core machine shared with other jobs, load average 4-8 during these runs).
Measured in this session on sst2, seed 13, with 2 torch threads, budget 32 and 40 test
examples: manual 28 s (model load included), manual-frame 12 s, fewshot 18 s, knn 48 s
(embedder load included), flowpo 91 s (the initial prompt only), ape-frame 78 s; DSPy
GEPA at a 40-call budget had not finished its first 32-example dev pass after 17 min.
Contention, not the model: transformers' ``generate`` (135M, 222-token prompt, 32 new
tokens, load ~8) took 215 s with 2 torch threads and 21 s with 1. With ``--threads 1``:
flowpo at budget 96 (40 test) 99 s; DSPy GEPA at budget 40 (47 metric calls, 45 server
requests, 32 dev + 10 test answers) 159 s, i.e. ~1.8 s per generation at the server.

Scaled to budget 256 and 500 test examples with ``--threads 1`` under that load, per
(task, seed): ~3 min for the four fixed arms together, ~5 min each for flowpo and
hybrid, ~5 min each for the six APE/OPRO/ProTeGi arms (the quick profile's cells: 2-14
min at 128), and ~25 min each for the four DSPy arms (~300 compile and dev requests plus
500 test answers, each a generation at the server): ~140 min per (task, seed), ~55 h for
8 tasks x 3 seeds. The full grid does NOT fit 4 h. ``MEDIUM_PLAN`` orders the work in
stages, each a complete, reportable table: (1) flowpo, hybrid and the fixed arms on all
seeds (~5 h), (2) the manual-frame baselines on seed 13 (~2 h), (3) DSPy on seed 13
(~13 h), (4) the rest. Every stage is resumable: ``--tasks``, ``--seeds`` and
``--methods`` select cells; finished cells are skipped:

  python bench/run.py --medium --threads 1 --methods flowpo,flowpo-hybrid,manual,manual-frame,fewshot,knn
  python bench/run.py --medium --threads 1 --seeds 13 --methods ape-frame,opro-frame,protegi-frame
  python bench/run.py --medium --threads 1 --seeds 13 --methods dspy-mipro,dspy-gepa,dspy-bootstrap-rs,dspy-copro
  python bench/run.py --medium --threads 1          # the rest
  python bench/run.py --medium --report             # tables and plot into BENCHMARKS.md
"""  # noqa: E501

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench.common import COMMIT, cell_key, load_results, machine, save_cell

TASKS = ["sst2", "cr", "subj", "trec", "agnews", "rte", "synonyms", "sentence_similarity"]
SEEDS = [13, 42, 87]
BUDGET = 256
CHECKPOINTS = [64, 128, 256]
FLOWPO = ["flowpo", "flowpo-plain", "flowpo-hybrid"]
SEARCH = ["ape", "opro", "protegi", "ape-frame", "opro-frame", "protegi-frame"]
FIXED = ["manual", "manual-frame", "fewshot", "knn"]
DSPY = ["dspy-mipro", "dspy-gepa", "dspy-bootstrap-rs", "dspy-copro"]
METHODS = FLOWPO + DSPY + SEARCH + FIXED
PEERS = [m for m in METHODS if m not in FLOWPO]
"""Every arm flowpo is compared with (flowpo-plain and flowpo-hybrid are flowpo's own)."""
PROFILE: dict[str, Any] = {
    "tasks": TASKS, "seeds": SEEDS, "budgets": [BUDGET], "checkpoints": CHECKPOINTS,
    "test_limit": 500, "max_new_tokens": 16, "methods": METHODS,
    "generation": {"max_new_tokens": 12},
}
MEDIUM_PLAN = [
    {"seeds": SEEDS, "methods": FLOWPO + FIXED},
    {"seeds": [13], "methods": ["ape-frame", "opro-frame", "protegi-frame"]},
    {"seeds": [13], "methods": DSPY},
    {"seeds": SEEDS, "methods": METHODS},
]
"""The order of stages (the docstring's time plan); each is one resumable command."""
NOT_AVAILABLE = "not available in this build"


def recorded_cell(
    env: Any, key: tuple[str, str, int, int], dspy: bool, run: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Return the cell ``key`` = (task, method, seed, budget) with what ``run()`` returned.

    A DSPy cell that cannot run here says why; a failure is recorded, never hidden.
    """
    name, method, seed, budget = key
    cell: dict[str, Any] = {"task": name, "method": method, "seed": seed, "budget": budget}
    if dspy:
        from bench import dspy_peer

        reason = dspy_peer.unavailable(env.args.server)
        if reason:
            return {**cell, "status": f"{NOT_AVAILABLE}: {reason}"}
    start = time.perf_counter()
    try:
        out, status = run(), "ok"
    except Exception as e:  # a failed cell is recorded, never hidden
        traceback.print_exc()
        out, status = {"error": f"{type(e).__name__}: {e}"}, "error"
    return {**cell, **out, "status": status, "seconds": time.perf_counter() - start,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": COMMIT}


def run_cell(env: Any, name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """Run one (task, method, seed, budget) cell of the medium profile."""
    from bench import arms

    def run() -> dict[str, Any]:
        if method in FLOWPO:
            return arms.run_flowpo(env, name, method, seed, budget)
        if method == "knn":
            return arms.run_knn(env, name, method, seed, budget)
        if method in DSPY:
            from bench import dspy_peer

            return dspy_peer.run(env, name, method, seed, budget)
        return arms.run_search(env, name, method, seed, budget)

    return recorded_cell(env, (name, method, seed, budget), method in DSPY, run)


def run_grid(args: Any, profile: dict[str, Any], out: Any, grid: list[tuple[Any, ...]]) -> None:
    """Run every unfinished cell of ``grid`` task by task, saving each as it finishes."""
    from bench.arms import BenchEnv

    data = load_results(out)
    meta = data.get("meta", {})
    meta.setdefault("started", time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
    meta.update(command="python bench/run.py " + " ".join(sys.argv[1:]), machine=machine(),
                profile="medium", test_limit=profile["test_limit"],
                checkpoints=profile["checkpoints"], generation=profile["generation"],
                max_new_tokens=profile["max_new_tokens"])
    env = BenchEnv(profile, args)
    for i, (t, m, s, b) in enumerate(grid):
        key = f"{t}|{m}|{s}|{b}"
        if key in {cell_key(c) for c in load_results(out)["cells"] if c["status"] == "ok"}:
            continue  # finished here or by another harness process meanwhile
        cell = run_cell(env, t, m, s, b)
        meta["updated"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        save_cell(out, cell, meta)
        shown = (f"test {cell['test']:.3f} dev {cell.get('dev')} train-ex "
                 f"{cell['train_examples']}" if cell["status"] == "ok" else cell["status"])
        print(f"[{i + 1}/{len(grid)}] {key}: {shown} ({cell.get('seconds', 0):.0f} s)",
              flush=True)
