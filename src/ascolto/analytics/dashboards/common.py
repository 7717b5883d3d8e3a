"""What every dashboard returns, and the pieces more than one dashboard uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ascolto.analytics.dashboards.charts import Chart
from ascolto.analytics.dashboards.figures import Figure
from ascolto.analytics.models import MetricTarget
from ascolto.core.models import Workspace


@dataclass
class Dashboard:
    key: str
    title: Any
    figures: list[Figure]
    charts: list[Chart] = field(default_factory=list)
    table_headers: list[Any] = field(default_factory=list)
    table_rows: list[list[tuple[str, str]]] = field(default_factory=list)  # (text, href)


def targets_of(workspace: Workspace) -> dict[str, MetricTarget]:
    return {
        t.metric: t
        for t in MetricTarget.objects.filter(workspace=workspace).select_related("owner")
    }
