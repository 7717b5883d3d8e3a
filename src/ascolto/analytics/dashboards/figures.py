"""A number on a dashboard: its value, the previous period's, the delta, its drill-down link and
whether it misses its target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.metrics import CATALOGUE, delta
from ascolto.analytics.models import MetricTarget


@dataclass(frozen=True)
class Figure:
    key: str
    label: Any
    value: float | None
    previous: float | None
    unit: str
    higher_is_better: bool
    href: str = ""
    target: MetricTarget | None = None

    @property
    def delta(self) -> float | None:
        return delta(self.value, self.previous)

    @property
    def improved(self) -> bool | None:
        d = self.delta
        if d is None or d == 0:
            return None
        return (d > 0) == self.higher_is_better

    @property
    def off_target(self) -> bool:
        return (
            self.target is not None
            and self.value is not None
            and not self.target.is_met(self.value)
        )

    @property
    def display(self) -> str:
        return format_value(self.value, self.unit)

    @property
    def delta_display(self) -> str:
        d = self.delta
        if d is None:
            return ""
        sign = "+" if d > 0 else "\u2212" if d < 0 else "±"
        return sign + format_value(abs(d), self.unit, points=True)


def format_value(value: float | None, unit: str, *, points: bool = False) -> str:
    if value is None:
        return "\u2013"
    if unit == "percent":
        return (_("%(n)s pt") if points else "%(n)s%%") % {"n": f"{value:.1f}"}
    if unit == "seconds":
        if value < 60:
            return _("%(n)s s") % {"n": f"{value:.0f}"}
        if value < 3600:
            return _("%(n)s min") % {"n": f"{value / 60:.1f}"}
        return _("%(n)s h") % {"n": f"{value / 3600:.1f}"}
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.1f}" if not float(value).is_integer() else f"{value:.0f}"


def conversation_drill(filters: DashboardFilters, subset: str) -> str:
    return reverse("analytics:drill_conversations") + "?" + filters.query(subset=subset)


def customer_drill(filters: DashboardFilters, subset: str) -> str:
    return reverse("analytics:drill_customers") + "?" + filters.query(subset=subset)


def figures(
    keys: list[str],
    current: dict[str, float | None],
    previous: dict[str, float | None],
    filters: DashboardFilters,
    targets: dict[str, MetricTarget],
    customer_subsets: dict[str, str] | None = None,
) -> list[Figure]:
    out = []
    for key in keys:
        d = CATALOGUE[key]
        if d.drill:
            href = conversation_drill(filters, d.drill)
        elif customer_subsets and key in customer_subsets:
            href = customer_drill(filters, customer_subsets[key])
        else:
            href = ""
        out.append(
            Figure(
                key=key,
                label=d.label,
                value=current.get(key),
                previous=previous.get(key),
                unit=d.unit,
                higher_is_better=d.higher_is_better,
                href=href,
                target=targets.get(key),
            )
        )
    return out
