"""The counting expressions of survey metrics, shared by the direct queries (selectors) and the
daily rollups (rollups.py), so both count exactly the same way."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, Count, F, Q, QuerySet, Sum, When

from ascolto.surveys import metrics

BREAKDOWNS = ("channel", "team", "agent", "segment", "language", "touchpoint", "survey")

# Responses are grouped by what was recorded on them when answered; invitations by their own
# fields (the segment is the customer's current tier).
RESPONSE_GROUP_FIELD = {
    "channel": "channel",
    "team": "team_id",
    "agent": "agent_id",
    "segment": "segment",
    "language": "language",
    "touchpoint": "touchpoint",
    "survey": "survey_id",
}
INVITATION_GROUP_FIELD = {
    "team": "team_id",
    "agent": "agent_id",
    "segment": "customer__value_tier",
    "language": "language",
    "touchpoint": "survey__touchpoint",
    "survey": "survey_id",
}
# Website intercept answers (InterceptAnswer) are complete, anonymous answers to the first
# question: grouped by their language, their survey's touchpoint and survey, under the channel
# "website"; they have no team, agent or segment (their group is empty).
WEBSITE_CHANNEL = "website"
INTERCEPT_GROUP_FIELD = {
    "language": "language",
    "touchpoint": "survey__touchpoint",
    "survey": "survey_id",
}
RESPONSE_COUNTS = (
    "responses",
    "promoters",
    "passives",
    "detractors",
    "csat_n",
    "csat_satisfied",
    "ces_n",
    "ces_total",
)
RATE_COUNTS = ("sent", "answered")
# The invitation funnel of the voice of the customer dashboard.
FUNNEL_COUNTS = ("sent", "opened", "answered")


def response_counts(*, completed_only: bool = False, prefix: str = "") -> dict[str, Any]:
    """Aggregates over Response rows: what NPS, CSAT and CES are computed from; of the completed
    responses only with `completed_only`, named with `prefix`."""
    done = Q(completed=True) if completed_only else Q()
    counts = {
        "responses": Count("id", filter=done),
        "promoters": Count("id", filter=done & Q(nps_score__gte=metrics.PROMOTER_MIN)),
        "passives": Count(
            "id",
            filter=done
            & Q(nps_score__gt=metrics.DETRACTOR_MAX, nps_score__lt=metrics.PROMOTER_MIN),
        ),
        "detractors": Count("id", filter=done & Q(nps_score__lte=metrics.DETRACTOR_MAX)),
        "csat_n": Count("csat_score", filter=done),
        "csat_satisfied": Count("id", filter=done & Q(csat_score__gte=metrics.CSAT_SATISFIED_MIN)),
        "ces_n": Count("ces_score", filter=done),
        "ces_total": Sum("ces_score", filter=done),
    }
    return {f"{prefix}{name}": value for name, value in counts.items()}


def intercept_counts(qs: QuerySet[Any], by: str | None, *fields: str) -> list[dict[str, Any]]:
    """Response counts (`response_counts`, same names) of website intercept answers, grouped by
    `fields` and, under "group", by the breakdown `by` (None: no group). Groups of no answers
    are left out."""
    field = INTERCEPT_GROUP_FIELD.get(by or "")
    constant = WEBSITE_CHANNEL if by == "channel" else None
    if field is not None:
        rows = [
            dict(r)
            for r in qs.values(*fields, group=F(field)).annotate(**response_counts()).order_by()
        ]
    elif fields:
        rows = [
            {**r, "group": constant}
            for r in qs.values(*fields).annotate(**response_counts()).order_by()
        ]
    else:
        rows = [{**qs.aggregate(**response_counts()), "group": constant}]
    return [r for r in rows if r["responses"]]


def rate_counts() -> dict[str, Any]:
    """Aggregates over sent Invitation rows: the response rate."""
    return {"sent": Count("id"), "answered": Count("id", filter=Q(answered_at__isnull=False))}


def funnel_counts() -> dict[str, Any]:
    """Aggregates over sent Invitation rows: sent, opened, answered."""
    return {
        **rate_counts(),
        "opened": Count("id", filter=Q(opened_at__isnull=False)),
    }


def invitation_channel() -> Case:
    """The channel an invitation is about: its conversation's channel, else how it was sent."""
    return Case(
        When(context_channel="", then=F("channel")),
        default=F("context_channel"),
        output_field=CharField(),
    )


def invitation_group(by: str) -> Any:
    return invitation_channel() if by == "channel" else F(INVITATION_GROUP_FIELD[by])


def group_key(value: Any) -> str:
    return "" if value is None else str(value)
