"""SVG charts: accessible, carrying their data, mirrored for right-to-left, safe with any label."""

from __future__ import annotations

import re

from ascolto.analytics.dashboards import charts


def xs(svg: str, tag: str) -> list[float]:
    return [float(x) for x in re.findall(rf'<{tag} class="bar" x="([\d.]+)"', svg)]


def test_bars_carry_each_value_and_a_table_row():
    chart = charts.bars("By channel", [("Web chat", 4.0), ("Email", 2.0)])

    assert re.findall(r'data-value="([^"]+)"', chart.svg) == ["4", "2"]
    assert '<svg class="chart chart-bars" role="img" aria-labelledby="chart-' in chart.svg
    assert "<title>Web chat: 4</title>" in chart.svg
    assert chart.rows == [["Web chat", "4"], ["Email", "2"]]


def test_bars_grow_from_the_right_in_rtl():
    ltr = charts.bars("t", [("a", 4.0), ("b", 2.0)])
    rtl = charts.bars("t", [("a", 4.0), ("b", 2.0)], rtl=True)

    widths = re.findall(r'width="([\d.]+)" height', ltr.svg)
    assert widths == re.findall(r'width="([\d.]+)" height', rtl.svg)
    # The longer bar starts near the centre-left in LTR and ends at the right edge mirror in RTL.
    assert xs(ltr.svg, "rect")[0] < charts.WIDTH / 2
    right_edges = [
        float(x) + float(w)
        for x, w in re.findall(
            r'<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', rtl.svg
        )
    ]
    assert all(abs(edge - right_edges[0]) < 0.2 for edge in right_edges)
    assert 'text-anchor="start"' in rtl.svg


def test_funnel_shares_are_of_the_first_stage():
    chart = charts.funnel("Invitations", [("Sent", 10), ("Opened", 5), ("Answered", 2)])

    assert chart.rows == [["Sent", "10", "100%"], ["Opened", "5", "50%"], ["Answered", "2", "20%"]]


def test_empty_charts_render_without_points():
    assert (
        "<circle"
        not in charts.trend_line("t", [], [], [], current_label="a", previous_label="b").svg
    )
    assert "<rect" not in charts.bars("t", []).svg
    assert charts.funnel("t", []).rows == []
    assert "<polyline" not in charts.pareto_curve("t", [], [], x_label="x", y_label="y").svg


def test_labels_are_escaped():
    chart = charts.bars("<b>t</b>", [('<script>alert("x")</script>', 1.0)])

    assert "<script>" not in chart.svg
    assert "&lt;script&gt;" in chart.svg
    assert "<b>" not in chart.svg


def test_heatmap_has_a_cell_per_weekday_and_hour():
    chart = charts.heatmap(
        "Volume", {(0, 9): 3, (6, 23): 1}, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    )

    cells = re.findall(r'<rect class="cell"[^>]*data-value="(\d+)"', chart.svg)
    assert len(cells) == 168
    assert cells[9] == "3"
    assert cells[-1] == "1"
    assert chart.rows[0][10] == "3"  # the table: the weekday name, then hours 00..23


def test_negative_values_draw_no_bar_but_keep_their_figure():
    chart = charts.bars("NPS", [("Email", -50.0), ("Chat", 25.0)])

    widths = [float(w) for w in re.findall(r'width="([\d.]+)" height', chart.svg)]
    assert widths[0] == 0
    assert widths[1] > 0
    assert "<title>Email: -50</title>" in chart.svg
