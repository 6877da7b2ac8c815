"""Manual-prompt test accuracy on the six few-shot GLUE tasks with the embedded model.

Runs the same evaluation as ``flowpo eval --task <t> --split test`` for sst2, mrpc, rte,
qnli, mnli and snli (GFlowPO template and verbalizers), prints a Markdown table and writes
bench/results/manual_glue.json.

Usage: python bench/manual_glue.py [--dtype auto] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from flowpo.evaluation import EvalCache, Evaluator
from flowpo.models.local import LocalLM
from flowpo.prompt import Prompt
from flowpo.tasks import load_task
from flowpo.tasks.manual import manual_prompt

TASKS = ("sst2", "mrpc", "rte", "qnli", "mnli", "snli")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    lm = LocalLM(dtype=args.dtype)
    rows = []
    for name in TASKS:
        task = load_task(name)
        examples = task.split("test")[: args.limit]
        prompt = Prompt.from_text(manual_prompt(task))
        start = time.perf_counter()
        res = Evaluator(task, lm, cache=EvalCache()).evaluate(prompt, examples)
        seconds = time.perf_counter() - start
        preds = [r.prediction for r in res.examples]
        majority = max(task.labels, key=lambda lab: sum(e.target == lab for e in examples))
        rows.append({
            "task": name, "n": len(examples), "accuracy": res.score,
            "macro_f1": res.details.get("macro_f1"),
            "majority_class": sum(e.target == majority for e in examples) / len(examples),
            "predicted_share": {lab: preds.count(lab) / len(preds) for lab in task.labels},
            "verbalizers": task.verbalizers, "seconds": seconds,
            "examples_per_s": len(examples) / seconds, "prompt": prompt.text,
        })
        r = rows[-1]
        print(f"{name:6} n={r['n']:5} acc={r['accuracy']:.4f} macroF1={r['macro_f1']:.4f} "
              f"majority={r['majority_class']:.4f} {r['examples_per_s']:.1f} ex/s", flush=True)
    mean = sum(r["accuracy"] for r in rows) / len(rows)
    print(f"mean accuracy {mean:.4f}  (model {lm.cache_key})")
    out = {"date": time.strftime("%Y-%m-%d"), "model": lm.cache_key, "rows": rows,
           "mean_accuracy": mean}
    path = Path(__file__).parent / "results" / "manual_glue.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
