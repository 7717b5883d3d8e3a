"""Server-side SVG charts: no JavaScript, no chart library.

Each chart is an `<svg role="img">` with a `<title>` and `aria-labelledby`, every data point
carries its own `<title>` (a hover tooltip, read by screen readers) and a `data-value`, and the
same figures come as rows for a data-table fallback. Right-to-left pages mirror the horizontal
axis by computing the coordinates (never by flipping the drawing), so text stays readable.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 640, 220, 28
_ids = itertools.count(1)


@dataclass
class Chart:
    title: str
    svg: SafeString
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def _num(value: float | None) -> str:
    if value is None:
        return "\u2013"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _x(position: float, rtl: bool) -> float:
    """A horizontal coordinate inside the plot, mirrored for right-to-left pages."""
    x = PAD + position * (WIDTH - 2 * PAD)
    return WIDTH - x if rtl else x


def _y(value: float, top: float) -> float:
    return HEIGHT - PAD - (value / top if top else 0) * (HEIGHT - 2 * PAD)


def _frame(title: str, body: str, kind: str) -> SafeString:
    chart_id = f"chart-{next(_ids)}"
    return format_html(
        '<svg class="chart chart-{}" role="img" aria-labelledby="{}" viewBox="0 0 {} {}" '
        'width="100%" preserveAspectRatio="xMidYMid meet"><title id="{}">{}</title>{}</svg>',
        kind,
        chart_id,
        WIDTH,
        HEIGHT,
        chart_id,
        title,
        mark_safe(body),  # noqa: S308 - built from escaped parts below
    )


def _point(x: float, y: float, label: str, value: float | None, css: str) -> str:
    return (
        f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="3" data-value="{_num(value)}">'
        f"<title>{escape(label)}: {_num(value)}</title></circle>"
    )


def trend_line(
    title: str,
    labels: Sequence[str],
    current: Sequence[float | None],
    previous: Sequence[float | None],
    *,
    current_label: str,
    previous_label: str,
    rtl: bool = False,
) -> Chart:
    """Two lines over the same day positions: this period and the previous one (dashed). The
    vertical axis starts at zero, or lower when a value is negative (an NPS below zero)."""
    values = [v for v in [*current, *previous] if v is not None]
    bottom = min([0.0, *values])
    top = (max(values, default=0) - bottom) or 1
    n = max(len(labels) - 1, 1)
    parts = []
    for series, css in ((previous, "series-previous"), (current, "series-current")):
        points = [
            (_x(i / n, rtl), _y(v - bottom, top), labels[i], v)
            for i, v in enumerate(series)
            if v is not None and i < len(labels)
        ]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            dash = ' stroke-dasharray="5 4"' if css == "series-previous" else ""
            parts.append(
                f'<polyline class="{css}" fill="none" stroke="currentColor" points="{path}"{dash}/>'
            )
            parts.extend(_point(x, y, label, v, css) for x, y, label, v in points)
    if labels:
        for i in (0, len(labels) - 1):
            anchor = "middle"
            parts.append(
                f'<text x="{_x(i / n, rtl):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" '
                f'font-size="11">{escape(labels[i])}</text>'
            )
    rows = [
        [label, _num(cur), _num(prev)]
        for label, cur, prev in itertools.zip_longest(labels, current, previous, fillvalue=None)
        if label is not None
    ]
    return Chart(
        title, _frame(title, "".join(parts), "trend"), ["", current_label, previous_label], rows
    )


def bars(title: str, items: Sequence[tuple[str, float | None]], *, rtl: bool = False) -> Chart:
    """Horizontal bars, one per item; bars grow from the start edge (the right in RTL). A
    negative value (an NPS below zero) draws no bar; its figure is in the title and the table."""
    top = max((abs(v) for _, v in items if v is not None), default=0) or 1
    row_height = (HEIGHT - 2 * PAD) / max(len(items), 1)
    label_space = 0.3
    parts = []
    for i, (label, value) in enumerate(items):
        y = PAD + i * row_height
        share = max(0.0, value or 0) / top * (1 - label_space)
        x0, x1 = _x(label_space, rtl), _x(label_space + share, rtl)
        text_x = _x(label_space - 0.02, rtl)
        anchor = "start" if rtl else "end"
        parts.append(
            f'<text x="{text_x:.1f}" y="{y + row_height / 2 + 4:.1f}" text-anchor="{anchor}" '
            f'font-size="12">{escape(label)}</text>'
            f'<rect class="bar" x="{min(x0, x1):.1f}" y="{y + 2:.1f}" '
            f'width="{abs(x1 - x0):.1f}" height="{max(row_height - 4, 1):.1f}" '
            f'fill="currentColor" data-value="{_num(value)}">'
            f"<title>{escape(label)}: {_num(value)}</title></rect>"
        )
    rows = [[label, _num(value)] for label, value in items]
    return Chart(title, _frame(title, "".join(parts), "bars"), ["", title], rows)


def heatmap(
    title: str, counts: dict[tuple[int, int], int], weekdays: Sequence[str], *, rtl: bool = False
) -> Chart:
    """Weekday rows x 24 hour columns; the cell's opacity is its share of the busiest cell."""
    top = max(counts.values(), default=0) or 1
    label_space = 0.1
    cell_w = (1 - label_space) / 24
    cell_h = (HEIGHT - 2 * PAD) / 7
    parts = []
    for day, name in enumerate(weekdays):
        y = PAD + day * cell_h
        anchor = "start" if rtl else "end"
        parts.append(
            f'<text x="{_x(label_space - 0.01, rtl):.1f}" y="{y + cell_h / 2 + 4:.1f}" '
            f'text-anchor="{anchor}" font-size="11">{escape(name)}</text>'
        )
        for hour in range(24):
            value = counts.get((day, hour), 0)
            a, b = _x(label_space + hour * cell_w, rtl), _x(label_space + (hour + 1) * cell_w, rtl)
            parts.append(
                f'<rect class="cell" x="{min(a, b):.1f}" y="{y:.1f}" width="{abs(b - a) - 1:.1f}" '
                f'height="{cell_h - 1:.1f}" fill="currentColor" '
                f'fill-opacity="{0.06 + 0.94 * value / top:.2f}" data-value="{value}">'
                f"<title>{escape(name)} {hour:02d}:00: {value}</title></rect>"
            )
    headers = ["", *(f"{h:02d}" for h in range(24))]
    rows = [
        [name, *(str(counts.get((day, h), 0)) for h in range(24))]
        for day, name in enumerate(weekdays)
    ]
    return Chart(title, _frame(title, "".join(parts), "heatmap"), headers, rows)


def pareto_curve(
    title: str,
    customer_shares: Sequence[float],
    value_shares: Sequence[float],
    *,
    x_label: str,
    y_label: str,
    rtl: bool = False,
) -> Chart:
    """The Pareto curve (share of customers, largest first, against share of the total) and the
    diagonal of an even spread."""
    points = [
        (_x(x, rtl), _y(y, 1.0), x, y) for x, y in zip(customer_shares, value_shares, strict=True)
    ]
    parts = [
        f'<line class="even" x1="{_x(0, rtl):.1f}" y1="{_y(0, 1):.1f}" x2="{_x(1, rtl):.1f}" '
        f'y2="{_y(1, 1):.1f}" stroke="currentColor" stroke-opacity="0.3" stroke-dasharray="4 4"/>'
    ]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        parts.append(
            f'<polyline class="series-current" fill="none" stroke="currentColor" points="{path}"/>'
        )
        parts.extend(
            _point(x, y, f"{100 * sx:.0f}% {x_label}", 100 * sy, "series-current")
            for x, y, sx, sy in points
        )
    rows = [
        [f"{100 * x:.0f}%", f"{100 * y:.1f}%"]
        for x, y in zip(customer_shares, value_shares, strict=True)
    ]
    return Chart(title, _frame(title, "".join(parts), "pareto"), [x_label, y_label], rows)


def funnel(title: str, stages: Sequence[tuple[str, int]], *, rtl: bool = False) -> Chart:
    """Stages as centred bars narrowing with the count, each with its share of the first."""
    top = max((v for _, v in stages), default=0) or 1
    first = stages[0][1] if stages else 0
    row_height = (HEIGHT - 2 * PAD) / max(len(stages), 1)
    parts = []
    rows = []
    for i, (label, value) in enumerate(stages):
        y = PAD + i * row_height
        half = value / top * 0.35
        a, b = _x(0.5 - half, rtl), _x(0.5 + half, rtl)
        share = f"{100 * value / first:.0f}%" if first else "\u2013"
        parts.append(
            f'<rect class="stage" x="{min(a, b):.1f}" y="{y + 2:.1f}" width="{abs(b - a):.1f}" '
            f'height="{max(row_height - 4, 1):.1f}" fill="currentColor" fill-opacity="0.35" '
            f'data-value="{value}"><title>{escape(label)}: {value} ({share})</title></rect>'
            f'<text x="{_x(0.5, rtl):.1f}" y="{y + row_height / 2 + 4:.1f}" text-anchor="middle" '
            f'font-size="12">{escape(label)}: {value}</text>'
        )
        rows.append([label, str(value), share])
    return Chart(title, _frame(title, "".join(parts), "funnel"), ["", "#", "%"], rows)
