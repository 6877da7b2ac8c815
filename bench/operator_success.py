"""Each operator's success rate over finished runs: how often its edit beat its parent.

Reads the summaries (``history.jsonl``, last line) of the run directories under a folder
(by default the ablation's runs) and writes one table into ``BENCHMARKS.md``: per
operator, the times it was drawn, failed (no usable prompt), improved on its parent, and
its success rate (improved / drawn). The issue this answers: with the embedded 135M
operator LM, did the LLM operators ever improve a prompt?

  python bench/operator_success.py                       # runs/bench/ablation
  python bench/operator_success.py --runs runs/bench/ablation --arm learnt
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from common import machine, write_benchmarks


def usage(run_dir: Path) -> dict[str, dict[str, float]]:
    """Return a finished run's operator usage (empty when it has no summary)."""
    path = run_dir / "history.jsonl"
    if not path.exists():
        return {}
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    last = json.loads(lines[-1]) if lines else {}
    return last.get("operator_usage", {}) if last.get("summary") else {}


def table(runs: list[Path]) -> tuple[str, int]:
    """Return the success table over ``runs`` and how many runs had a summary."""
    total: dict[str, Counter[str]] = {}
    counted = 0
    for run in runs:
        found = usage(run)
        counted += bool(found)
        for op, stats in found.items():
            total.setdefault(op, Counter()).update(
                {k: stats.get(k, 0) for k in ("chosen", "failed", "improved")})
    lines = ["| operator | drawn | failed | improved | success |", "|---|---|---|---|---|"]
    for op, c in sorted(total.items(), key=lambda kv: -kv[1]["improved"] / max(1, kv[1]["chosen"])):
        rate = c["improved"] / c["chosen"] if c["chosen"] else 0.0
        lines.append(f"| {op} | {c['chosen']} | {c['failed']} | {c['improved']} | {rate:.0%} |")
    return "\n".join(lines), counted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="runs/bench/ablation")
    ap.add_argument("--arm", default="learnt", help="runs whose directory name has -ARM-")
    args = ap.parse_args()
    runs = sorted(p for p in Path(args.runs).glob(f"*-{args.arm}-s*") if p.is_dir())
    body, counted = table(runs)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = (f"Command: `python bench/operator_success.py --runs {args.runs} --arm {args.arm}`; "
            f"{counted} finished runs; machine: {machine()}; {when}.\n\n{body}")
    print(text)
    write_benchmarks(text, f"operators:{args.arm}")


if __name__ == "__main__":
    main()
