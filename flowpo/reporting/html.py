"""``report.html``: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

from flowpo.reporting import svg
from flowpo.reporting.data import RunData, extra_series, gfn_series, load, operator_stats
from flowpo.run.rundir import REPORT, write_atomic
from flowpo.search.promptdiff import word_ops

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#111;
background:#f8fafc}
main{max-width:1180px;margin:0 auto;padding:20px 28px}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 8px;
border-bottom:1px solid #e2e8f0;padding-bottom:4px}
.sub{color:#475569}.grid2{display:flex;flex-wrap:wrap;gap:16px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.cards .card{min-width:150px}
.big{font-size:20px;font-weight:600}.up{color:#15803d}.down{color:#b91c1c}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e2e8f0;padding:3px 9px;
text-align:right}th{background:#f1f5f9}td:first-child,th:first-child{text-align:left}
.warn{background:#fef9c3;border:1px solid #facc15;border-radius:8px;padding:8px 14px}
.diff{white-space:pre-wrap;font:13px/1.5 ui-monospace,Menlo,Consolas,monospace;background:#fff;
border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px}
del{background:#fee2e2;color:#991b1b}ins{background:#dcfce7;color:#166534;text-decoration:none}
svg{background:#fff;border:1px solid #e2e8f0;border-radius:8px}
svg .title{font-weight:600;font-size:13px}svg .tick{font-size:11px;fill:#334155}
svg .label,svg .legend{font-size:12px;fill:#334155}svg .cell{font-size:9px}
svg .grid{stroke:#e2e8f0}svg .axis{stroke:#64748b}svg .track{fill:#f1f5f9}
svg .na{fill:#f8fafc;stroke:#fff}
"""
SECTIONS = (
    "summary",
    "scores",
    "loss",
    "q-table",
    "operators",
    "gfn",
    "budget",
    "prompt",
    "trace",
)
"""The ``id`` of every section, in page order."""


def write_report(run_dir: Path) -> Path:
    """Write ``<run_dir>/report.html`` from whatever the run directory holds."""
    data = load(Path(run_dir))
    if not data.run_dir.is_dir():
        from flowpo.errors import DataError

        raise DataError("no such run directory", where=str(run_dir), fix="check the path")
    path = data.run_dir / REPORT
    write_atomic(path, render(data))
    return path


def render(data: RunData) -> str:
    """Return the report page for ``data``."""
    title = f"flowpo report: {data.config.get('task', data.run_dir.name)}"
    parts = [
        _header(data),
        _section("summary", "Summary", _summary(data)),
        _section("scores", "Train and dev score per epoch", _scores(data)),
        _section("loss", "Loss curve", _loss(data)),
        _section("q-table", "Q table (operator-selection policy)", _q(data)),
        _section("operators", "Operator usage and success", _operators(data)),
        _section("gfn", "GFlowNet and other per-epoch series", _extras(data)),
        _section("budget", "Budget spent", _budget(data)),
        _section("prompt", "Best prompt against the initial one", _prompt(data)),
        _section("trace", "Trace", _trace(data)),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        + "".join(parts)
        + "</main></body></html>\n"
    )


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{body}</section>'


def _header(data: RunData) -> str:
    c = data.config
    keys = ("method", "optimizer", "model", "operator_model", "max_epochs", "seed")
    meta = " · ".join(f"{k}: {escape(str(c[k]))}" for k in keys if c.get(k) is not None)
    out = [
        f"<h1>flowpo run: {escape(str(c.get('task', '?')))}</h1>",
        f'<div class="sub">{escape(str(data.run_dir))}<br>{meta}</div>',
    ]
    if data.missing:
        items = "".join(f"<li>{escape(m)}</li>" for m in data.missing)
        out.append(
            '<p class="warn" id="missing"><b>Incomplete run directory.</b> '
            f"The report shows what exists; missing:</p><ul>{items}</ul>"
        )
    return "".join(out)


def _summary(data: RunData) -> str:
    s = data.summary
    if not s:
        last = data.epochs[-1] if data.epochs else {}
        if not last:
            return "<p>No epoch recorded.</p>"
        return (
            f"<p>Run in progress or stopped: {len(data.epochs)} epoch row(s), best train "
            f"{_num(last.get('best_train'))} (candidate {escape(str(last.get('best_id')))}).</p>"
        )
    cards = [
        f'<div class="card"><div class="sub">{split}</div><div class="big">'
        f"{_num(s['initial'].get(split))} → {_num(s['final'].get(split))}</div>"
        f"{_delta(s['initial'].get(split), s['final'].get(split))}</div>"
        for split in ("train", "dev", "test")
        if split in s.get("final", {})
    ]
    cards.append(
        f'<div class="card"><div class="sub">stopped</div><div>{escape(str(s.get("stop_reason")))}'
        f'</div><div class="sub">after {s.get("epochs")} epoch(s); chosen '
        f"{escape(str(s.get('chosen_id')))}</div></div>"
    )
    scoring = (
        f'<p class="sub">Scored through: {escape(s["scoring"])}</p>' if s.get("scoring") else ""
    )
    return f'<div class="cards">{"".join(cards)}</div>{scoring}'


def _scores(data: RunData) -> str:
    train = _pts(data.epochs, "best_train")
    dev = _pts(data.epochs, "best_dev")
    series = {"best train score": train}
    if dev:
        series["its dev score"] = dev
    final_dev = data.summary.get("final", {}).get("dev")
    if isinstance(final_dev, int | float) and train:
        series["final choice, dev"] = [(train[-1][0], float(final_dev))]
    chart = svg.line_chart(series, title="Best prompt's score per epoch", y_range=(0.0, 1.0))
    note = "" if dev else "<p class='sub'>No per-epoch dev score in this history.</p>"
    return chart + note


def _loss(data: RunData) -> str:
    series = {"best train loss (1 − score)": _pts(data.epochs, "best_loss")}
    by_epoch: dict[int, list[float]] = {}
    for c in data.candidates:
        if isinstance(c.get("train_score"), int | float):
            by_epoch.setdefault(int(c.get("epoch", 0)), []).append(1 - float(c["train_score"]))
    if by_epoch:
        series["mean candidate loss"] = [(e, sum(v) / len(v)) for e, v in sorted(by_epoch.items())]
    return svg.line_chart(series, title="Loss per epoch")


def _q(data: RunData) -> str:
    snaps = [(r["epoch"], r["q"]) for r in data.epochs if isinstance(r.get("q"), dict)]
    if not snaps:
        return "<p>No Q-table snapshot in this history (written by newer versions).</p>"
    epoch, last = snaps[-1]
    ops, secs = list(last["operators"]), list(last["sections"])
    vals = [[last["values"].get(s, {}).get(o) for o in ops] for s in secs]
    final = svg.heat_map(secs, ops, vals, title=f"Q at epoch {epoch} (section × operator)")
    cells = sorted({(s, o) for _, q in snaps for s in q["sections"] for o in q["operators"]})

    def value(q: dict[str, Any], s: str, o: str) -> float | None:
        v = q.get("values", {}).get(s, {}).get(o)
        return float(v) if v is not None else None

    first = {c: value(snaps[0][1], *c) for c in cells}
    change = {
        c: max(abs((value(q, *c) or 0.0) - (first[c] or 0.0)) for _, q in snaps) for c in cells
    }
    moved = sorted((c for c in cells if change[c] > 1e-12), key=lambda c: -change[c])[:24]
    if not moved:
        return f"<p>No Q value has moved yet.</p>{final}"
    note = f"<p class='sub'>{len(cells) - len(moved)} other cell(s) kept their first value.</p>"
    over = svg.heat_map(
        [f"{s} · {o}" for s, o in moved],
        [f"epoch {e}" for e, _ in snaps],
        [[value(q, *c) for _, q in snaps] for c in moved],
        title="Q over epochs: the cells that moved most",
        cell=(54, 18),
    )
    return f'<div class="grid2"><div>{over}{note}</div>{final}</div>'


def _operators(data: RunData) -> str:
    stats = operator_stats(data.epochs) or data.summary.get("operator_usage", {})
    if not stats:
        return "<p>No operator has been applied yet.</p>"
    rows = sorted(stats.items(), key=lambda kv: -kv[1].get("chosen", 0))
    body = "".join(
        f"<tr><td>{escape(op)}</td><td>{int(s['chosen'])}</td><td>{int(s['failed'])}</td>"
        f"<td>{int(s['improved'])}</td><td>{_pct(s['improved'], s['chosen'])}</td>"
        f"<td>{s['gain'] / s['chosen'] if s['chosen'] else 0.0:+.4f}</td></tr>"
        for op, s in rows
    )
    table = (
        "<table><tr><th>operator</th><th>chosen</th><th>failed</th><th>improved</th>"
        f"<th>success</th><th>mean gain</th></tr>{body}</table>"
    )
    bars = svg.bar_chart(
        [(op, 100 * s["improved"] / s["chosen"] if s["chosen"] else 0.0) for op, s in rows],
        title="Success rate (improved / chosen)",
        max_value=100.0,
        unit="%",
    )
    uses = svg.bar_chart(
        [(op, s["chosen"]) for op, s in rows],
        title="Times chosen",
        max_value=max(s["chosen"] for _, s in rows),
    )
    return f'<div class="grid2"><div>{table}</div>{bars}{uses}</div>'


def _extras(data: RunData) -> str:
    series = {**extra_series(data.epochs), **gfn_series(data.gfn)}
    if not series:
        return "<p>No GFlowNet or other per-epoch series in this run (method without sampler).</p>"
    groups: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for name, pts in sorted(series.items()):
        kind = "loss" if "loss" in name else "reward" if "reward" in name else name
        groups.setdefault(kind, {})[name] = pts
    charts = [svg.line_chart(g, title=kind) for kind, g in groups.items()]
    return f'<div class="grid2">{"".join(charts)}</div>'


def _budget(data: RunData) -> str:
    last = (data.summary or (data.epochs[-1] if data.epochs else {})).get("budget") or {}
    if not last:
        return "<p>No budget recorded.</p>"
    cfg = data.config
    limits = {
        "examples_scored": cfg.get("budget_examples"),
        "llm_calls": cfg.get("budget_llm_calls"),
        "seconds": cfg.get("budget_seconds"),
    }
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td>{_num(v, 1)}</td>"
        f"<td>{_num(limits.get(k), 1) if limits.get(k) is not None else '—'}</td></tr>"
        for k, v in last.items()
    )
    table = f"<table><tr><th>counter</th><th>spent</th><th>limit</th></tr>{rows}</table>"
    series = {
        k: [
            (float(r["epoch"]), float(r["budget"].get(k, 0)))
            for r in data.epochs
            if r.get("budget")
        ]
        for k in ("examples_scored", "llm_calls")
    }
    chart = svg.line_chart(series, title="Cumulative spend per epoch")
    return f'<div class="grid2"><div>{table}</div>{chart}</div>'


def _prompt(data: RunData) -> str:
    initial, best = data.initial_prompt(), data.best_prompt()
    if best is None or initial is None:
        return "<p>No scored prompt yet.</p>"
    prompt, source = best
    pieces = []
    for tag, text in word_ops(initial.to_markdown(), prompt.to_markdown()):
        t = escape(text)
        pieces.append(t if tag == "=" else f"<del>{t}</del>" if tag == "-" else f"<ins>{t}</ins>")
    changed = any(tag != "=" for tag, _ in word_ops(initial.to_markdown(), prompt.to_markdown()))
    head = (
        f"<p class='sub'>Best prompt: {escape(source)}. "
        + ("<del>removed</del> / <ins>added</ins> against the initial prompt." if changed else "")
        + ("" if changed else "Identical to the initial prompt.")
        + "</p>"
    )
    return f'{head}<div class="diff">{"".join(pieces)}</div>'


def _trace(data: RunData) -> str:
    if not data.trace_runs:
        return (
            "<p>No trace.json: <code>flowpo optimize</code> and <code>flowpo resume</code> "
            "write it when the run ends (a graph served elsewhere traces to its own callbacks)."
            "</p>"
        )
    counts: dict[tuple[str, str], int] = {}
    for r in data.trace_runs:
        key = (str(r.get("run_type")), str(r.get("name")))
        counts[key] = counts.get(key, 0) + 1
    rows = "".join(
        f"<tr><td>{escape(n)}</td><td>{escape(t)}</td><td>{c}</td></tr>"
        for (t, n), c in sorted(counts.items(), key=lambda kv: -kv[1])[:30]
    )
    return (
        f"<p class='sub'>{len(data.trace_runs)} runs in trace.json "
        "(upload with <code>flowpo trace upload</code>).</p>"
        f"<table><tr><th>run name</th><th>type</th><th>count</th></tr>{rows}</table>"
    )


def _pts(rows: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    return [
        (float(r["epoch"]), float(r[key]))
        for r in rows
        if isinstance(r.get(key), int | float) and math.isfinite(float(r[key]))
    ]


def _num(v: Any, digits: int = 4) -> str:
    if not isinstance(v, int | float):
        return "—"
    if digits == 1 and float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.0f}%" if b else "—"


def _delta(a: Any, b: Any) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return ""
    cls = "up" if b > a else "down" if b < a else "sub"
    return f'<div class="{cls}">{b - a:+.4f}</div>'
