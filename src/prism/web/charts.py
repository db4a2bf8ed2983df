"""Charts as inline SVG, drawn on the server: sparklines, horizontal bars, column trends.

No script and no style attribute: shapes carry classes (coloured by app.css) and plain
geometry, so the pages work under a strict Content-Security-Policy. Each chart has role="img"
and a <title>, and the numbers it draws are also printed as text beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def sparkline(
    values: Sequence[float | None],
    *,
    label: str,
    width: int = 160,
    height: int = 40,
) -> Markup:
    """A line through the non-null values (a gap where a value is null), the last one dotted."""
    pad = 4
    known = [v for v in values if v is not None]
    body = [f"<title>{escape(label)}</title>"]
    if known:
        lo, hi = min(known), max(known)
        span = (hi - lo) or 1.0
        n = len(values)
        step = (width - 2 * pad) / max(1, n - 1)

        def y(v: float) -> float:
            return height - pad - (v - lo) / span * (height - 2 * pad)

        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((pad + i * step, y(v)))
        for run in runs:
            if len(run) > 1:
                pts = " ".join(f"{_f(x)},{_f(yy)}" for x, yy in run)
                body.append(f'<polyline class="spark-line" points="{pts}" />')
        last = max(i for i, v in enumerate(values) if v is not None)
        lv = values[last]
        assert lv is not None
        body.append(
            f'<circle class="spark-dot" cx="{_f(pad + last * step)}" cy="{_f(y(lv))}" r="3" />'
        )
    else:
        body.append(
            f'<line class="spark-empty" x1="{pad}" y1="{height / 2}" '
            f'x2="{width - pad}" y2="{height / 2}" />'
        )
    return Markup(
        f'<svg class="chart sparkline" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" focusable="false">{"".join(body)}</svg>'
    )


def bar(value: float | None, *, label: str, width: int = 200, height: int = 12) -> Markup:
    """One horizontal bar for a share in [0, 1] (an empty track when the value is null)."""
    share = 0.0 if value is None else max(0.0, min(1.0, value))
    fill = (
        f'<rect class="bar-fill" x="0" y="0" width="{_f(share * width)}" '
        f'height="{height}" rx="3" />'
        if value is not None
        else ""
    )
    return Markup(
        f'<svg class="chart bar" role="img" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" width="{width}" height="{height}" focusable="false">'
        f"<title>{escape(label)}</title>"
        f'<rect class="bar-track" x="0" y="0" width="{width}" height="{height}" rx="3" />'
        f"{fill}</svg>"
    )


def stacked(parts: Sequence[tuple[str, int]], *, label: str, width: int = 400) -> Markup:
    """One bar split into named parts (classes `part-0`.. so the legend can match colours)."""
    height = 18
    total = sum(v for _, v in parts) or 1
    x = 0.0
    rects = []
    for i, (name, v) in enumerate(parts):
        w = v / total * width
        if w > 0:
            rects.append(
                f'<rect class="part-{i}" x="{_f(x)}" y="0" width="{_f(w)}" height="{height}">'
                f"<title>{escape(name)}: {v:,}</title></rect>"
            )
        x += w
    return Markup(
        f'<svg class="chart stacked" role="img" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" width="{width}" height="{height}" focusable="false">'
        f"<title>{escape(label)}</title>"
        f'<rect class="bar-track" x="0" y="0" width="{width}" height="{height}" />'
        f"{''.join(rects)}</svg>"
    )


def columns(
    points: Sequence[tuple[str, float | None]],
    *,
    label: str,
    width: int = 480,
    height: int = 140,
    highlight_last: bool = True,
) -> Markup:
    """Vertical columns, one per labelled point (a trend over windows, days or weeks)."""
    pad_b, pad_t = 18, 6
    n = max(1, len(points))
    known = [v for _, v in points if v is not None]
    hi = max(known) if known and max(known) > 0 else 1.0
    slot = width / n
    col_w = max(2.0, slot * 0.64)
    body = [f"<title>{escape(label)}</title>"]
    body.append(
        f'<line class="axis" x1="0" y1="{height - pad_b}" x2="{width}" y2="{height - pad_b}" />'
    )
    every = max(1, n // 8)
    for i, (name, v) in enumerate(points):
        x = i * slot + (slot - col_w) / 2
        if v is not None and v > 0:
            h = v / hi * (height - pad_b - pad_t)
            cls = "col col-last" if highlight_last and i == n - 1 else "col"
            body.append(
                f'<rect class="{cls}" x="{_f(x)}" y="{_f(height - pad_b - h)}" '
                f'width="{_f(col_w)}" height="{_f(h)}"><title>{escape(name)}: '
                f"{escape(_f(v) if isinstance(v, float) else str(v))}</title></rect>"
            )
        if i % every == 0 or i == n - 1:
            body.append(
                f'<text class="tick" x="{_f(i * slot + slot / 2)}" y="{height - 4}" '
                f'text-anchor="middle">{escape(name)}</text>'
            )
    return Markup(
        f'<svg class="chart columns" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" focusable="false">{"".join(body)}</svg>'
    )
