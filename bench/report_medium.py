"""The ``--medium`` report: every table and the plot, regenerated from the results JSON only.

Tables: test score (mean ± std over seeds) per task and method with the 8-task mean;
every cell's spent budget; flowpo's curve at the checkpoint budgets; significance (paired
bootstrap over test examples, flowpo vs the best peer per task); sample efficiency
(examples flowpo needed to reach the best peer's final dev score); DSPy's server spend
and parse failures; and per task a "why the winner won" paragraph built from the data
(the winning prompt's parts), never from hand-written numbers.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.common import mean_std
from bench.stats import best_peer, examples_to_reach, paired_bootstrap, paired_over_seeds

FLOWPO = "flowpo"


def ok_cells(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the finished cells."""
    return [c for c in data.get("cells", []) if c.get("status") == "ok"]


def _of(cells: list[dict[str, Any]], task: str, method: str) -> list[dict[str, Any]]:
    return sorted((c for c in cells if (c["task"], c["method"]) == (task, method)),
                  key=lambda c: c["seed"])


def _order(data: dict[str, Any], methods: list[str], tasks: list[str]) -> tuple[list, list]:
    cells = data.get("cells", [])
    return ([t for t in tasks if any(c["task"] == t for c in cells)],
            [m for m in methods if any(c["method"] == m for c in cells)])


def header(data: dict[str, Any], model: str) -> list[str]:
    """Return the command, dates, machine and test-sample lines."""
    meta = data.get("meta", {})
    gen = meta.get("generation", {})
    commands = meta.get("commands", [meta.get("command", "")])
    commits = sorted({c.get("commit", "not recorded") for c in data.get("cells", [])})
    return [
        "Commands: " + ", ".join(f"`{c}`" for c in commands) + " (resumable; run in pieces); "
        f"code at commit {', '.join(commits)}; machine: "
        f"{meta.get('machine', '')}; dates (UTC): {meta.get('started', '')} to "
        f"{meta.get('updated', '')}. Target and operator LM: {model}. Test: a fixed seeded "
        f"sample of at most {meta.get('test_limit')} examples per task, the same for every "
        f"method; generation tasks decode at most {gen.get('max_new_tokens')} new tokens. "
        "Regenerate with `python bench/run.py --medium --report`.", "",
    ]


def score_table(data: dict[str, Any], methods: list[str], tasks: list[str]) -> list[str]:
    """Return the test table: mean ± std over seeds per task and the all-task mean."""
    cells = ok_cells(data)
    tasks, methods = _order(data, methods, tasks)
    lines = ["#### Test score (mean ± std over seeds)", "",
             "| method | " + " | ".join(tasks) + " | mean |", "|---|" + "---:|" * (len(tasks) + 1)]
    for m in methods:
        row, means = [], []
        for t in tasks:
            xs = [c["test"] for c in _of(cells, t, m)]
            row.append(mean_std(xs))
            if xs:
                means.append(statistics.mean(xs))
        avg = f"{statistics.mean(means):.3f}" if means and len(means) == len(tasks) else "—"
        lines.append(f"| {m} | " + " | ".join(row) + f" | {avg} |")
    return [*lines, ""]


def spend_table(data: dict[str, Any], methods: list[str], tasks: list[str]) -> list[str]:
    """Return every cell's spent budget: train examples per seed (DSPy: metric calls)."""
    cells = ok_cells(data)
    tasks, methods = _order(data, methods, tasks)
    lines = ["#### Examples spent per cell (train examples scored per seed; DSPy: metric "
             "calls in compile, its dev validation included)", "",
             "| method | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for m in methods:
        row = ["/".join(str(int(c["train_examples"])) for c in _of(cells, t, m)) or "—"
               for t in tasks]
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    return [*lines, ""]


def curve_table(data: dict[str, Any], tasks: list[str]) -> list[str]:
    """Return flowpo's best-so-far test score at each checkpoint (mean over seeds)."""
    cells = ok_cells(data)
    cps = data.get("meta", {}).get("checkpoints") or []
    rows = []
    for m in ("flowpo", "flowpo-plain", "flowpo-hybrid"):
        for t in tasks:
            pts = [p for c in _of(cells, t, m) for p in c.get("curve", [])]
            if pts:
                got = [statistics.mean(p["test"] for p in pts if p["budget"] == b)
                       if any(p["budget"] == b for p in pts) else None for b in cps]
                rows.append(f"| {m} | {t} | " + " | ".join(
                    "—" if g is None else f"{g:.3f}" for g in got) + " |")
    if not rows:
        return []
    return ["#### Best-so-far test score at each budget (same runs, mean over seeds)", "",
            "| method | task | " + " | ".join(str(b) for b in cps) + " |",
            "|---|---|" + "---:|" * len(cps), *rows, ""]


def significance_table(data: dict[str, Any], tasks: list[str], peers: list[str]) -> list[str]:
    """Return flowpo vs the best peer per task: paired bootstrap over test examples."""
    cells = ok_cells(data)
    lines = ["#### Significance: flowpo vs the best peer per task (paired bootstrap over "
             "test examples, seeds pooled; p = share of resamples where flowpo is not ahead)",
             "", "| task | flowpo | best peer | peer | diff | 95% CI | p | pairs |",
             "|---|---:|---|---:|---:|---|---:|---:|"]
    for t in tasks:
        peer = best_peer(cells, t, peers)
        mine = [c["test"] for c in _of(cells, t, FLOWPO)]
        if peer is None or not mine:
            continue
        theirs = [c["test"] for c in _of(cells, t, peer)]
        a, b = paired_over_seeds(cells, t, FLOWPO, peer)
        if a:
            r = paired_bootstrap(a, b)
            sig = f"{r['diff']:+.3f} | [{r['lo']:+.3f}, {r['hi']:+.3f}] | {r['p']:.3f} | {len(a)}"
        else:
            sig = "— | — | — | 0"
        lines.append(f"| {t} | {mean_std(mine)} | {peer} | {mean_std(theirs)} | {sig} |")
    return [*lines, ""]


def efficiency(
    cells: list[dict[str, Any]], t: str, peers: list[str]
) -> tuple[str, float, float, list[str], list[bool]] | None:
    """Return task ``t``'s best peer by dev, its dev and spend, and flowpo's reach per seed.

    Per seed: the examples after which the prompt flowpo would return reached the peer's
    final dev on that seed (``not reached``; `` e`` for a per-epoch history), and whether
    that was within half of what the peer spent. ``None`` when either has no cells.
    """
    with_dev = [p for p in peers if any(c.get("dev") is not None for c in _of(cells, t, p))]
    devs = {p: statistics.mean(c["dev"] for c in _of(cells, t, p) if c.get("dev") is not None)
            for p in with_dev}
    mine = {c["seed"]: c for c in _of(cells, t, FLOWPO)}
    if not devs or not mine:
        return None
    peer = max(devs, key=lambda p: devs[p])
    reached, half = [], []
    for c in _of(cells, t, peer):
        own = mine.get(c["seed"])
        if own is None or c.get("dev") is None:
            continue
        by_candidate = own.get("returned") or []
        at = examples_to_reach(by_candidate or own.get("history", []), c["dev"])
        mark = "" if by_candidate else " e"
        reached.append(("not reached" if at is None else f"{at:.0f}") + mark)
        half.append(at is not None and at <= c["train_examples"] / 2)
    spent = statistics.mean(c["train_examples"] for c in _of(cells, t, peer))
    return peer, devs[peer], spent, reached, half


def efficiency_table(data: dict[str, Any], tasks: list[str], peers: list[str]) -> list[str]:
    """Return the examples flowpo needed to reach the best peer's final dev score."""
    cells = ok_cells(data)
    lines = ["#### Sample efficiency: train examples flowpo needed to reach the best peer's "
             "final dev score (per seed: after the candidate where the prompt flowpo would "
             "return reached it; `e` marks runs with only a per-epoch history)", "",
             "| task | best peer (by dev) | peer dev | peer spent | flowpo reached at | "
             "at most half the peer's budget |", "|---|---|---:|---:|---|---|"]
    for t in tasks:
        found = efficiency(cells, t, peers)
        if found is None:
            continue
        peer, dev, spent, reached, half = found
        lines.append(f"| {t} | {peer} | {dev:.3f} | {spent:.0f} | "
                     f"{' / '.join(reached) or '—'} | {sum(half)}/{len(half)} seeds |")
    return [*lines, ""]


def checks(data: dict[str, Any], tasks: list[str], peers: list[str]) -> list[str]:
    """Return the issue's must-show checks, computed (all-task means over finished tasks)."""
    cells = ok_cells(data)

    def means(m: str) -> dict[str, float]:
        return {t: statistics.mean(c["test"] for c in _of(cells, t, m))
                for t in tasks if _of(cells, t, m)}

    mine = means(FLOWPO)
    if not mine:
        return []
    lines = ["#### Checks (issue 19, from the table above)", ""]
    full = [p for p in peers if set(means(p)) >= set(mine)]
    if full:
        avg = {p: statistics.mean(means(p)[t] for t in mine) for p in full}
        top = max(avg, key=lambda p: avg[p])
        gap = statistics.mean(mine.values()) - avg[top]
        lines.append(f"* flowpo's mean over {len(mine)} tasks minus the best peer's "
                     f"({top}): {100 * gap:+.1f} points (goal: +3).")
    behind = sorted({t for p in peers for t, v in means(p).items()
                     if t in mine and v - mine[t] > 0.05})
    lines.append(f"* tasks where flowpo is more than 5 points below some peer: "
                 f"{', '.join(behind) or 'none'} (goal: none).")
    found = {t: efficiency(cells, t, peers) for t in mine}
    fast = [t for t, f in found.items() if f and f[4] and 2 * sum(f[4]) > len(f[4])]
    lines += [f"* tasks where flowpo reached the best peer's final dev with at most half its "
              f"budget on most seeds: {len(fast)} of {len(mine)} ({', '.join(fast) or 'none'};"
              f" goal: at least half).", ""]
    return lines


def dspy_table(data: dict[str, Any]) -> list[str]:
    """Return what each DSPy cell spent at the server and its parse failures."""
    extra = [c for c in ok_cells(data) if c.get("parse_failures") is not None]
    if not extra:
        return []
    lines = ["#### DSPy: spent at the server, and parse failures (lenient ChatAdapter)", "",
             "| task | method | seed | metric calls | server requests | prompt tokens | "
             "test parse failures | test |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in extra:
        lines.append(f"| {c['task']} | {c['method']} | {c['seed']} | {c['train_examples']} | "
                     f"{c.get('server_requests')} | {c.get('server_prompt_tokens') or '—'} | "
                     f"{c['parse_failures']} / {c['test_n']} | {c['test']:.3f} |")
    return [*lines, ""]


def describe(cell: dict[str, Any]) -> str:
    """Return what a winning cell's prompt is made of, from its recorded parts."""
    parts = cell.get("parts") or {}
    bits = []
    if parts.get("frame"):
        bits.append(f"frame `{parts['frame']!r}`")
    elif cell.get("frame"):
        bits.append(f"frame `{cell['frame']!r}`")
    if parts.get("label_words"):
        bits.append(f"label words {parts['label_words']}")
    if parts.get("calibrate"):
        bits.append("calibrated")
    if parts.get("sections"):
        bits.append(f"sections {parts['sections']}")
    if parts.get("retrieve"):
        bits.append(f"{parts['retrieve']} nearest labelled examples retrieved per input")
    if cell.get("demos"):
        bits.append(f"{cell['demos']} demonstrations")
    if cell.get("settings", {}).get("k"):
        bits.append(f"{cell['settings']['k']} retrieved demonstrations per input")
    return "; ".join(bits) or "the instruction only"


def why_paragraphs(data: dict[str, Any], methods: list[str], tasks: list[str]) -> list[str]:
    """Return one paragraph slot per task: the winner, its prompt's parts, the runner-up."""
    cells = ok_cells(data)
    lines = ["#### Why the winner won (from the data: the winning prompt's parts)", ""]
    for t in tasks:
        means = {m: statistics.mean(c["test"] for c in _of(cells, t, m))
                 for m in methods if _of(cells, t, m)}
        if not means:
            continue
        ranked = sorted(means, key=lambda m: means[m], reverse=True)
        win = ranked[0]
        best = max(_of(cells, t, win), key=lambda c: c["test"])
        second = (f" Runner-up: {ranked[1]} ({means[ranked[1]]:.3f})." if len(ranked) > 1
                  else "")
        lines += [f"<!-- why:{t} -->", f"**{t}**: {win} ({means[win]:.3f}), its best seed's "
                  f"prompt: {describe(best)}; spent {best['train_examples']} examples.{second}",
                  ""]
    return lines


def plot(data: dict[str, Any], path: Path, methods: list[str], tasks: list[str]) -> None:
    """Plot test score vs examples spent, per task and method (flowpo: its curve)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = ok_cells(data)
    tasks, methods = _order(data, methods, tasks)
    if not tasks:
        return
    cols = min(4, len(tasks))
    rows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    markers = "os^vD<>pP*Xhd1234"
    for ax, t in zip(axes.flat, tasks, strict=False):
        for i, m in enumerate(methods):
            cs = _of(cells, t, m)
            if not cs:
                continue
            pts = [p for c in cs for p in c.get("curve", [])]
            budgets = sorted({p["budget"] for p in pts})
            xs = [statistics.mean(p["spent"] or 0 for p in pts if p["budget"] == b)
                  for b in budgets] or [statistics.mean(c["train_examples"] for c in cs)]
            ys = [statistics.mean(p["test"] for p in pts if p["budget"] == b)
                  for b in budgets] or [statistics.mean(c["test"] for c in cs)]
            ax.plot(xs, ys, marker=markers[i % len(markers)], label=m, linestyle="-")
        ax.set_title(t)
        ax.set_xlabel("target-LM examples spent")
        ax.set_ylabel("test score")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def report(data: dict[str, Any], methods: list[str], tasks: list[str], peers: list[str],
           model: str) -> str:
    """Return the whole ``--medium`` section for BENCHMARKS.md."""
    tasks = _order(data, methods, tasks)[0]
    errors = [c for c in data.get("cells", []) if c.get("status") == "error"]
    lines = [*header(data, model), *score_table(data, methods, tasks),
             *spend_table(data, methods, tasks), *curve_table(data, tasks),
             *significance_table(data, tasks, peers), *efficiency_table(data, tasks, peers),
             *checks(data, tasks, peers),
             *dspy_table(data), *why_paragraphs(data, methods, tasks)]
    if errors:
        lines += ["Cells that failed:", "", *[
            f"* {c['task']} / {c['method']} / seed {c['seed']}: {c.get('error')}"
            for c in errors], ""]
    return "\n".join(lines)
