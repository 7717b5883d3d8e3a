"""Voice of the customer: NPS, CSAT, CES, the invitation funnel and NPS by channel."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from ascolto.analytics.dashboards import charts
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.figures import figures
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.metrics import (
    survey_figure_values,
    survey_figures,
    survey_selection,
)
from ascolto.core.models import Workspace
from ascolto.inbox.models import Channel
from ascolto.surveys import selections as survey_selections

KEYS = ["survey_responses", "nps", "csat", "ces"]
CUSTOMER_SUBSETS = {
    "survey_responses": "responded",
    "nps": "detractors",
    "csat": "csat_answered",
    "ces": "ces_answered",
}


def invitation_funnel(*, workspace: Workspace, filters: DashboardFilters) -> list[tuple[str, int]]:
    """Invitations sent in the period (with the filters that apply to them), opened, answered."""
    found = survey_selections.selection_figures(
        workspace=workspace, selection=survey_selection(filters), funnel=True
    )
    return _funnel(found.funnel)


def _funnel(counts: dict[str, int]) -> list[tuple[str, int]]:
    return [
        (_("Sent"), counts["sent"]),
        (_("Opened"), counts["opened"]),
        (_("Answered"), counts["answered"]),
    ]


def build(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime, rtl: bool = False
) -> Dashboard:
    # One read gives the figures, NPS by channel and the funnel: the survey rollups for whole
    # past days (surveys/selections.py), the edges counted directly.
    found = survey_selections.selection_figures(
        workspace=workspace, selection=survey_selection(filters), by_channel=True, funnel=True
    )
    current = survey_figure_values(found.totals)
    previous = survey_figures(workspace=workspace, filters=filters.previous())
    labels = dict(Channel.choices)
    by_channel = [
        (str(labels.get(key, key or "\u2013")), group.nps.score)
        for key, group in sorted(found.by_channel.items())
        if group.nps.score is not None
    ]
    return Dashboard(
        key="voice",
        title=_("Voice of the customer"),
        figures=figures(KEYS, current, previous, filters, targets_of(workspace), CUSTOMER_SUBSETS),
        charts=[
            charts.funnel(_("Survey invitations"), _funnel(found.funnel), rtl=rtl),
            charts.bars(_("NPS by channel"), by_channel, rtl=rtl),
        ],
    )
