"""Evaluation throughput beyond one process: serve-model at concurrency 1/4/16, Ray 1/2 workers.

One run, one task (SST-2 test sentences, verbalizer scoring, the evaluator with a fresh
in-memory cache each time):

* ``in-process``: the embedded model in this process (the reference);
* ``serve-model cN``: the same model behind ``flowpo serve-model`` (started in a thread of
  this process on 127.0.0.1), scored through ``RemoteLM`` with N requests in flight; the
  server batches concurrent requests (chat template, so numbers differ from in-process);
* ``ray wN``: the evaluator's batches fanned out as N Ray tasks on a local Ray with 2 CPUs,
  each worker holding its own copy of the model (load time excluded: warmed up first).

Writes bench/results/scale.json and prints a Markdown table.

Each setting scores its own slice of --limit sentences (no memo carries over).

Usage: python bench/scale.py [--limit 64] [--dtype auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from flowpo.evaluation import EvalCache, Evaluator
from flowpo.model_server.server import start_server
from flowpo.models.base import TargetLM
from flowpo.models.local import LocalLM
from flowpo.models.remote import RemoteLM
from flowpo.prompt import Prompt, Section
from flowpo.scale.ray_target import RayTarget, ensure_ray
from flowpo.tasks import load_task

PROMPT = Prompt(
    sections=(
        Section("task", "Decide whether the movie review sentence is positive or negative."),
        Section("format", "Answer with one word."),
    )
)


def measure(name: str, target: TargetLM, examples: list[Any], task: Any) -> dict[str, Any]:
    ev = Evaluator(task, target, cache=EvalCache())

    async def run() -> Any:
        return await ev.aevaluate(PROMPT, examples)

    start = time.perf_counter()
    result = asyncio.run(run())
    seconds = time.perf_counter() - start
    row = {
        "setting": name,
        "examples": len(examples),
        "seconds": round(seconds, 2),
        "examples_per_s": round(len(examples) / seconds, 2),
        "accuracy": round(result.score, 3),
    }
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--dtype", default="auto")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    task = load_task("sst2")
    pool = task.split("test")
    n = args.limit
    # Each setting scores its own slice: a worker's memo of rows never serves a later one.
    slices = iter(pool[i : i + n] for i in range(0, len(pool) - n + 1, n))
    warm = task.split("dev")  # warm-ups never touch the timed slices
    lm = LocalLM(dtype=args.dtype)
    rows = [measure("in-process", lm, next(slices), task)]

    server = start_server(lm, "smollm2-135m", max_batch=64, batch_wait_ms=5)
    try:
        for concurrency in (1, 4, 16):
            remote = RemoteLM("smollm2-135m", base_url=server.base_url, concurrency=concurrency)
            examples = next(slices)
            measure("warm-up", remote, warm[:4], task)
            rows.append(measure(f"serve-model c{concurrency}", remote, examples, task))
    finally:
        server.stop()

    ray = ensure_ray(None, num_cpus=2)
    try:
        for workers in (1, 2):
            target = RayTarget(f"local:{'smollm2-135m'}", {"dtype": lm.dtype}, workers=workers)
            for k in range(2):  # every worker process loads its model copy before timing
                measure("warm-up", target, warm[4 * k : 4 * k + 2 * workers], task)
            rows.append(measure(f"ray w{workers}", target, next(slices), task))
    finally:
        ray.shutdown()

    out = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "dtype": lm.dtype,
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    path = Path(__file__).parent / "results" / "scale.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print("\n| setting | examples/s | seconds | accuracy |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['examples_per_s']} | {r['seconds']} | {r['accuracy']} |")


if __name__ == "__main__":
    main()
