"""Inline SVG charts for the run report: line charts, heat maps, bars (no JavaScript)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
Series = dict[str, list[tuple[float, float]]]


def _fmt(v: float) -> str:
    if float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Return about ``n`` round tick values covering ``[lo, hi]``.

    Example:
        >>> nice_ticks(0.0, 1.0)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


@dataclass(frozen=True)
class _Frame:
    """The plot area in pixels and the data ranges it shows."""

    left: int
    top: int
    width: int
    height: int
    x0: float
    x1: float
    lo: float
    hi: float

    def sx(self, x: float) -> float:
        """Return the pixel column of ``x``."""
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.width

    def sy(self, y: float) -> float:
        """Return the pixel row of ``y`` (up is larger)."""
        return self.top + self.height - (y - self.lo) / (self.hi - self.lo) * self.height


def line_chart(
    series: Series,
    *,
    title: str,
    x_label: str = "epoch",
    width: int = 600,
    height: int = 250,
    y_range: tuple[float, float] | None = None,
) -> str:
    """Return an SVG line chart with axes, ticks, points and a legend."""
    points = [p for pts in series.values() for p in pts if math.isfinite(p[1])]
    if not points:
        return _empty(title, width)
    left, right, top, bottom = 56, 16, 48, 40
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1
    lo, hi = y_range or (min(ys), max(ys))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
    yt = nice_ticks(lo, hi)
    lo, hi = min(lo, yt[0]), max(hi, yt[-1])
    frame = _Frame(left, top, width - left - right, height - top - bottom, x0, x1, lo, hi)
    out = [_open(width, height, title), *_axes(frame, yt, x_label, height)]
    out += _lines(frame, series)
    out.append("</svg>")
    return "".join(out)


def _axes(f: _Frame, y_ticks: list[float], x_label: str, height: int) -> list[str]:
    """Return the grid lines and ticks of ``y_ticks``, integer x ticks, axes and x label."""
    left, top, pw, ph = f.left, f.top, f.width, f.height
    out = []
    for t in y_ticks:
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{f.sy(t):.1f}" y2="{f.sy(t):.1f}" '
            'class="grid"/>'
            f'<text x="{left - 6}" y="{f.sy(t) + 4:.1f}" class="tick" text-anchor="end">'
            f"{_fmt(t)}</text>"
        )
    x0, x1 = f.x0, f.x1
    for t in nice_ticks(x0, x1, min(10, max(1, int(x1 - x0)))):
        if x0 <= t <= x1 and float(t).is_integer():
            out.append(
                f'<text x="{f.sx(t):.1f}" y="{top + ph + 16}" class="tick" text-anchor="middle">'
                f"{int(t)}</text>"
            )
    out.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>'
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>'
        f'<text x="{left + pw / 2:.1f}" y="{height - 6}" class="label" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    return out


def _lines(f: _Frame, series: Series) -> list[str]:
    """Return each series' line, its points (with a hover title) and its legend entry."""
    out = []
    lx = f.left + 8
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        good = [(x, y) for x, y in sorted(pts) if math.isfinite(y)]
        if len(good) > 1:
            path = " ".join(f"{f.sx(x):.1f},{f.sy(y):.1f}" for x, y in good)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in good:
            out.append(
                f'<circle cx="{f.sx(x):.1f}" cy="{f.sy(y):.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)} @ {_fmt(x)}: {_fmt(y)}</title></circle>"
            )
        out.append(
            f'<rect x="{lx}" y="{f.top - 22}" width="12" height="4" fill="{color}"/>'
            f'<text x="{lx + 16}" y="{f.top - 17}" class="legend">{escape(name)}</text>'
        )
        lx += 32 + 7 * len(name)
    return out


def heat_map(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    title: str,
    cell: tuple[int, int] = (44, 18),
    row_label_width: int = 230,
    show_values: bool = True,
) -> str:
    """Return an SVG heat map (white = lowest value, dark blue = highest)."""
    flat = [v for r in values for v in r if v is not None and math.isfinite(v)]
    if not flat or not rows or not cols:
        return _empty(title, 400)
    lo, hi = min(flat), max(flat)
    cw, ch = cell
    top = 30 + int(4.4 * max(len(c) for c in cols))  # slanted column labels
    width = row_label_width + cw * len(cols) + 90  # room for the slanted last labels
    height = top + ch * len(rows) + 30
    out = [_open(width, height, title)]
    for j, c in enumerate(cols):
        x = row_label_width + j * cw + cw / 2
        out.append(
            f'<text x="{x:.1f}" y="{top - 6}" class="tick" text-anchor="start" '
            f'transform="rotate(-40 {x:.1f} {top - 6})">{escape(c)}</text>'
        )
    for i, r in enumerate(rows):
        y = top + i * ch
        out.append(
            f'<text x="{row_label_width - 6}" y="{y + ch * 0.7:.1f}" class="tick" '
            f'text-anchor="end">{escape(r)}</text>'
        )
        for j, v in enumerate(values[i]):
            x = row_label_width + j * cw
            if v is None or not math.isfinite(v):
                out.append(f'<rect x="{x}" y="{y}" width="{cw}" height="{ch}" class="na"/>')
                continue
            t = (v - lo) / (hi - lo) if hi > lo else 0.5
            out.append(
                f'<rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="{_blue(t)}" '
                f'stroke="#fff"><title>{escape(r)} / {escape(cols[j])}: {v:.5f}</title></rect>'
            )
            if show_values:
                color = "#fff" if t > 0.55 else "#111"
                out.append(
                    f'<text x="{x + cw / 2:.1f}" y="{y + ch * 0.7:.1f}" class="cell" '
                    f'fill="{color}" text-anchor="middle">{_cell(v)}</text>'
                )
    out.append(
        f'<text x="{row_label_width}" y="{height - 8}" class="label">'
        f"white = {lo:.4f} … dark = {hi:.4f}</text></svg>"
    )
    return "".join(out)


def bar_chart(
    items: Sequence[tuple[str, float]], *, title: str, max_value: float = 1.0, unit: str = ""
) -> str:
    """Return horizontal bars, one per ``(label, value)``."""
    if not items:
        return _empty(title, 400)
    label_w, bar_w, ch, top = 190, 300, 20, 28
    width, height = label_w + bar_w + 80, top + ch * len(items) + 10
    out = [_open(width, height, title)]
    for i, (name, v) in enumerate(items):
        y = top + i * ch
        w = max(0.0, min(1.0, v / max_value if max_value else 0.0)) * bar_w
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" class="tick" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{ch - 6}" class="track"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{ch - 6}" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 14}" class="tick">{_fmt(v)}{unit}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _cell(v: float) -> str:
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"


def _blue(t: float) -> str:
    """Interpolate white (t=0) to dark blue (t=1)."""
    a, b = (255, 255, 255), (30, 64, 175)
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><text x="4" y="14" class="title">{escape(title)}</text>'
    )


def _empty(title: str, width: int) -> str:
    return f'{_open(width, 40, title)}<text x="4" y="32" class="tick">no data</text></svg>'
