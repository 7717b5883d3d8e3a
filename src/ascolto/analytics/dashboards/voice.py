"""Voice of the customer: NPS, CSAT, CES, the invitation funnel and NPS by channel."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Q
from django.utils.translation import gettext as _

from ascolto.analytics.dashboards import charts
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.figures import figures
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.metrics import response_queryset, survey_counts, survey_values
from ascolto.core.models import Workspace
from ascolto.inbox.models import Channel
from ascolto.surveys import metrics as survey_metrics
from ascolto.surveys.models import Invitation

KEYS = ["survey_responses", "nps", "csat", "ces"]
CUSTOMER_SUBSETS = {
    "survey_responses": "responded",
    "nps": "detractors",
    "csat": "csat_answered",
    "ces": "ces_answered",
}


def invitation_funnel(*, workspace: Workspace, filters: DashboardFilters) -> list[tuple[str, int]]:
    """Invitations sent in the period (with the filters that apply to them), opened, answered."""
    qs = Invitation.objects.filter(
        workspace=workspace,
        sent_at__gte=filters.period.start,
        sent_at__lt=filters.period.end,
    )
    if filters.channel:
        qs = qs.filter(
            Q(context_channel=filters.channel) | Q(context_channel="", channel=filters.channel)
        )
    if filters.team_id is not None:
        qs = qs.filter(team_id=filters.team_id)
    if filters.agent_id is not None:
        qs = qs.filter(agent_id=filters.agent_id)
    if filters.language:
        qs = qs.filter(language=filters.language)
    if filters.tier_value is not None:
        qs = qs.filter(customer__value_tier=filters.tier_value)
    row = qs.aggregate(
        sent=Count("id"),
        opened=Count("id", filter=Q(opened_at__isnull=False)),
        answered=Count("id", filter=Q(answered_at__isnull=False)),
    )
    return [
        (_("Sent"), row["sent"]),
        (_("Opened"), row["opened"]),
        (_("Answered"), row["answered"]),
    ]


def build(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime, rtl: bool = False
) -> Dashboard:
    responses = response_queryset(workspace=workspace, filters=filters)
    current = survey_values(survey_counts(responses))
    previous = survey_values(
        survey_counts(response_queryset(workspace=workspace, filters=filters.previous()))
    )
    labels = dict(Channel.choices)
    by_channel = []
    for row in (
        responses.filter(nps_score__isnull=False)
        .values(group=F("channel"))
        .annotate(
            promoters=Count("id", filter=Q(nps_score__gte=survey_metrics.PROMOTER_MIN)),
            detractors=Count("id", filter=Q(nps_score__lte=survey_metrics.DETRACTOR_MAX)),
            n=Count("id"),
        )
        .order_by("group")
    ):
        score = survey_metrics.nps_from_counts(
            promoters=row["promoters"],
            passives=row["n"] - row["promoters"] - row["detractors"],
            detractors=row["detractors"],
        ).score
        by_channel.append((str(labels.get(row["group"], row["group"] or "\u2013")), score))
    return Dashboard(
        key="voice",
        title=_("Voice of the customer"),
        figures=figures(KEYS, current, previous, filters, targets_of(workspace), CUSTOMER_SUBSETS),
        charts=[
            charts.funnel(
                _("Survey invitations"),
                invitation_funnel(workspace=workspace, filters=filters),
                rtl=rtl,
            ),
            charts.bars(_("NPS by channel"), by_channel, rtl=rtl),
        ],
    )
