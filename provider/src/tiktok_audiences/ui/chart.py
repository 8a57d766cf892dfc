"""A small inline SVG of an audience's size and match rate over time, drawn on the server.

No JavaScript and no CDN: the page works offline and inside Airflow's iframe. Every value placed in
the markup is a number or a date we format ourselves, and is escaped all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 60, 20, 40
SIZE_COLOUR = "#1f6feb"
MATCH_COLOUR = "#d6336c"


def _scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    if high == low:
        return (out_low + out_high) / 2
    return out_low + (value - low) * (out_high - out_low) / (high - low)


def history_chart(points: Sequence[tuple[datetime, int | None, float | None]]) -> Markup:
    """SVG for ``(time, size, match_rate)`` points, oldest first; an empty note without points."""
    points = [p for p in points if p[1] is not None]
    if not points:
        return Markup('<p class="muted">No finished sync yet: the chart appears after the first run.</p>')
    times = [p[0].timestamp() for p in points]
    sizes = [float(p[1]) for p in points]
    matches = [100 * p[2] for p in points if p[2] is not None]
    t0, t1 = min(times), max(times)
    size_high = max(sizes) * 1.1 or 1.0
    match_high = max(100.0, max(matches, default=0) * 1.1)
    plot_left, plot_right = _LEFT, WIDTH - _RIGHT
    plot_top, plot_bottom = _TOP, HEIGHT - _BOTTOM

    def x(t: float) -> float:
        return _scale(t, t0, t1, plot_left, plot_right)

    size_xy = [(x(t), _scale(s, 0, size_high, plot_bottom, plot_top)) for t, s in zip(times, sizes, strict=True)]
    match_xy = [
        (x(p[0].timestamp()), _scale(100 * p[2], 0, match_high, plot_bottom, plot_top))
        for p in points
        if p[2] is not None
    ]

    def polyline(xy: list[tuple[float, float]], colour: str) -> str:
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in xy)
        dots = "".join(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in xy)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>{dots}'

    def label(text: str, px: float, py: float, anchor: str = "middle", colour: str = "#555") -> str:
        return (f'<text x="{px:.1f}" y="{py:.1f}" text-anchor="{anchor}" fill="{colour}" font-size="11">'
                f'{escape(text)}</text>')

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="Size and match rate over time" class="chart">',
        f'<rect x="{plot_left}" y="{plot_top}" width="{plot_right - plot_left}" height="{plot_bottom - plot_top}" '
        f'fill="none" stroke="#ccc"/>',
        label(f"{int(size_high):,}", plot_left - 6, plot_top + 4, "end", SIZE_COLOUR),
        label("0", plot_left - 6, plot_bottom, "end", SIZE_COLOUR),
        label(f"{match_high:.0f}%", plot_right + 6, plot_top + 4, "start", MATCH_COLOUR),
        label("0%", plot_right + 6, plot_bottom, "start", MATCH_COLOUR),
        label(points[0][0].strftime("%Y-%m-%d %H:%M"), plot_left, HEIGHT - 22, "start"),
        label(points[-1][0].strftime("%Y-%m-%d %H:%M"), plot_right, HEIGHT - 22, "end"),
        label("Size", plot_left, HEIGHT - 6, "start", SIZE_COLOUR),
        label("Match (%)", plot_left + 50, HEIGHT - 6, "start", MATCH_COLOUR),
        polyline(size_xy, SIZE_COLOUR),
    ]
    if match_xy:
        parts.append(polyline(match_xy, MATCH_COLOUR))
    parts.append("</svg>")
    return Markup("".join(parts))
