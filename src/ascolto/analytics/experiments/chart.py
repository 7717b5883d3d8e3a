"""The experiment detail's chart: each treatment's difference from the control with its
confidence interval, around a zero line (a forest plot), drawn like the dashboards' charts."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape

from ascolto.analytics.dashboards.charts import HEIGHT, PAD, Chart, _frame, _x


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def interval_chart(
    title: str, items: Sequence[tuple[str, float, float, float]], *, rtl: bool = False
) -> Chart:
    """`items`: (label, difference, low, high). The horizontal scale is symmetric about 0."""
    reach = max((max(abs(lo), abs(hi)) for _, _, lo, hi in items), default=0.0) or 1.0
    label_space = 0.2

    def x(value: float) -> float:
        return _x(label_space + (value / reach + 1) / 2 * (1 - label_space), rtl)

    row = (HEIGHT - 2 * PAD) / max(len(items), 1)
    zero = x(0.0)
    parts = [
        f'<line class="zero" x1="{zero:.1f}" x2="{zero:.1f}" y1="{PAD}" y2="{HEIGHT - PAD}" '
        'stroke="currentColor" stroke-dasharray="4 3" opacity="0.6"/>'
    ]
    for i, (label, diff, low, high) in enumerate(items):
        y = PAD + (i + 0.5) * row
        text = f"{label}: {_fmt(diff)} [{_fmt(low)}, {_fmt(high)}]"
        parts.append(
            f'<text x="{_x(label_space - 0.02, rtl):.1f}" y="{y + 4:.1f}" '
            f'text-anchor="{"start" if rtl else "end"}" font-size="12">{escape(label)}</text>'
            f'<line class="interval" x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="currentColor" stroke-width="3"><title>{escape(text)}</title>'
            f'</line><circle cx="{x(diff):.1f}" cy="{y:.1f}" r="5" data-value="{_fmt(diff)}">'
            f"<title>{escape(text)}</title></circle>"
        )
    rows = [[label, _fmt(d), _fmt(lo), _fmt(hi)] for label, d, lo, hi in items]
    return Chart(title, _frame(title, "".join(parts), "interval"), ["", "", "", ""], rows)
