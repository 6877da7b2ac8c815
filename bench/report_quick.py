"""The ``--quick`` / ``--full`` report (the frozen-frame research-protocol table) and its plot."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.common import METHODS, MODEL, mean_std

NOT_AVAILABLE = "not available in this build"


def _avg(xs: list[Any]) -> str:
    xs = [x for x in xs if x is not None]
    return f"{statistics.mean(xs):.0f}" if xs else "—"


def cost_rows(cells: list[dict[str, Any]], methods: list[str], budget: int) -> list[str]:
    """Return one cost row per method at ``budget`` (means over tasks and seeds)."""
    lines: list[str] = []
    for m in methods:
        cs = [c for c in cells if c["method"] == m and c["budget"] == budget]
        ok = [c for c in cs if c["status"] == "ok"]
        if not ok:
            status = cs[0]["status"] if cs else ""
            lines.append(f"| {m} | {status} | | | | | 0/{len(cs)} |")
            continue
        tr = [c["train_examples"] for c in ok]
        lines.append(
            f"| {m} | {statistics.mean(tr):.0f} / {max(tr)} | "
            f"{_avg([c['dev_examples'] for c in ok])} | "
            f"{_avg([c['llm_calls'] for c in ok])} | "
            f"{_avg([c.get('llm_requests') for c in ok])} | "
            f"{_avg([c['seconds'] for c in ok])} | {len(ok)}/{len(cs)} |"
        )
    return lines


def header(meta: dict[str, Any]) -> list[str]:
    """Return the command, machine, dates and test-sample line."""
    gen = meta.get("generation", {})
    return [
        f"Command: `{meta.get('command', '')}`; machine: {meta.get('machine', '')}; "
        f"dates (UTC): {meta.get('started', '')} to {meta.get('updated', '')}. Target and "
        f"operator LM: {MODEL}. Test: "
        + ("full test split." if meta.get("test_limit") is None
           else f"a fixed seeded sample of {meta.get('test_limit')} test examples per "
                "classification task and "
                f"{gen.get('test_limit', meta.get('test_limit'))} per "
                "generation task (whole split when smaller), the same for every method; "
                "generation decodes at most "
                f"{gen.get('max_new_tokens', meta.get('max_new_tokens'))}"
                " new tokens (the first line is the answer)."),
        "",
    ]


def report(data: dict[str, Any], profile_name: str) -> str:
    cells = data["cells"]
    tasks = list(dict.fromkeys(c["task"] for c in cells))
    methods = [m for m in METHODS if any(c["method"] == m for c in cells)]
    budgets = sorted({c["budget"] for c in cells})
    lines = header(data.get("meta", {}))
    for budget in budgets:
        lines += [f"#### Test score, budget {budget} target-LM train examples "
                  f"(mean ± std over seeds {sorted({c['seed'] for c in cells})})", ""]
        lines.append("| method | " + " | ".join(tasks) + " | mean |")
        lines.append("|---|" + "---:|" * (len(tasks) + 1))
        for m in methods:
            row, means = [], []
            for t in tasks:
                cs = [c for c in cells if (c["task"], c["method"], c["budget"]) == (t, m, budget)]
                ok = [c["test"] for c in cs if c["status"] == "ok"]
                if ok:
                    row.append(mean_std(ok))
                    means.append(statistics.mean(ok))
                elif cs:
                    row.append("n/a" if cs[0]["status"].startswith(NOT_AVAILABLE)
                               else "error")
                else:
                    row.append("—")
            avg = f"{statistics.mean(means):.3f}" if len(means) == len(tasks) else "—"
            lines.append(f"| {m} | " + " | ".join(row) + f" | {avg} |")
        lines += ["", f"#### Cost per run, budget {budget} (means over tasks and seeds)", ""]
        lines.append("| method | train examples scored (mean / max) | dev examples scored | "
                     "operator-LM calls (batched) | operator-LM requests | wall s (mean) | "
                     "cells ok |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        lines += cost_rows(cells, methods, budget)
        lines.append("")
    extra = [c for c in cells if c["status"] == "ok" and c.get("parse_failures") is not None]
    if extra:
        lines += ["#### DSPy: what was spent at the server, and parse failures", "",
                  "| task | method | seed | server requests | prompt tokens | test parse "
                  "failures | test |", "|---|---|---:|---:|---:|---:|---:|"]
        for c in extra:
            lines.append(f"| {c['task']} | {c['method']} | {c['seed']} | "
                         f"{c.get('server_requests')} | {c.get('server_prompt_tokens')} | "
                         f"{c['parse_failures']} / {c['test_n']} | {c['test']:.3f} |")
        lines.append("")
    errors = [c for c in cells if c["status"] == "error"]
    if errors:
        lines += ["Cells that failed:", ""]
        lines += [f"* {c['task']} / {c['method']} / seed {c['seed']}: {c['error']}"
                  for c in errors]
        lines.append("")
    return "\n".join(lines)


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [c for c in data["cells"] if c["status"] == "ok"]
    tasks = list(dict.fromkeys(c["task"] for c in cells))
    if not tasks:
        return
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.8), squeeze=False)
    markers = "os^vD<>pP*Xh"
    for ax, t in zip(axes[0], tasks, strict=True):
        for i, m in enumerate(METHODS):
            pts = {}
            for c in cells:
                if (c["task"], c["method"]) == (t, m):
                    pts.setdefault(c["budget"], []).append(c)
            if not pts:
                continue
            xs = [statistics.mean(c["train_examples"] for c in pts[b]) for b in sorted(pts)]
            ys = [statistics.mean(c["test"] for c in pts[b]) for b in sorted(pts)]
            ax.plot(xs, ys, marker=markers[i % len(markers)], label=m, linestyle="-")
        ax.set_title(t)
        ax.set_xlabel("target-LM train examples scored")
        ax.set_ylabel("test score")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


