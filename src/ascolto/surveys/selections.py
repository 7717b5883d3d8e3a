"""Survey figures of a dashboard selection: a period and up to five breakdown values that must
all match (channel, team, agent, segment, language), with NPS by channel and the invitation
funnel. The analytics dashboards read these (overview, voice of the customer).

What matches a selection is the reference definition, counted directly by `_direct`:
responses given in the period whose recorded channel / team / agent / segment / language equal
the chosen values; website intercept answers (channel "website", no team, agent or segment,
their own language); invitations sent in the period (sent or bounced) by their channel
(`aggregates.invitation_channel`), team, agent, language and their customer's current tier.
Whole past UTC days come from the daily rollups when they have rows for the selection
(`_rollup_rows`), the rest (part days at the edges, today, selections without rows) is counted
directly, narrowed by the indexes on the period, the agent and the team.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import F, OuterRef, QuerySet, Subquery

from ascolto.core.models import Workspace
from ascolto.customers.models import Customer
from ascolto.surveys import aggregates as agg
from ascolto.surveys import metrics, rollups
from ascolto.surveys.models import InterceptAnswer, Invitation, Response

Counts = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Selection:
    """[since, until) and the breakdown values every counted answer must have; None: any."""

    since: dt.datetime
    until: dt.datetime
    channel: str | None = None
    team_id: int | None = None
    agent_id: int | None = None
    segment: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class SelectionFigures:
    totals: metrics.GroupMetrics
    by_channel: dict[str, metrics.GroupMetrics]  # channel ("" for none) -> figures
    funnel: dict[str, int]  # sent, opened, answered


def selection_figures(
    *, workspace: Workspace, selection: Selection, by_channel: bool = False, funnel: bool = False
) -> SelectionFigures:
    """NPS, CSAT, CES and the response count of the selection; per channel with `by_channel`;
    the invitation funnel (sent, opened, answered) with `funnel` (else zeros)."""
    rows, rates = _counts(workspace, selection, by_channel=by_channel, funnel=funnel)
    groups = {key: _group(key, counts) for key, counts in rows.items()}
    total = metrics.GroupCounts(
        key="", **{name: sum(getattr(g, name) for g in groups.values()) for name in _SUMMED}
    )
    sent = {name: sum(r.get(name, 0) for r in rates.values()) for name in agg.FUNNEL_COUNTS}
    return SelectionFigures(
        totals=metrics.summarize(total),
        by_channel={key: metrics.summarize(g) for key, g in groups.items()} if by_channel else {},
        funnel=sent,
    )


_SUMMED = agg.RESPONSE_COUNTS


def _group(key: str, counts: dict[str, int]) -> metrics.GroupCounts:
    return metrics.GroupCounts(
        key=key,
        **{name: counts.get(name, 0) for name in agg.RESPONSE_COUNTS if name != "ces_total"},
        ces_total=float(counts.get("ces_total", 0)),
    )


def _counts(
    workspace: Workspace, selection: Selection, *, by_channel: bool, funnel: bool
) -> tuple[Counts, Counts]:
    plan = rollups.plan(workspace=workspace, since=selection.since, until=selection.until)
    read = _rollup_rows(selection, by_channel=by_channel)
    if plan is None or read is None:
        return _direct(workspace, selection, by_channel=by_channel, funnel=funnel)
    dimension, key, channel, group = read
    rows, rates = rollups.selection_counts(
        workspace=workspace,
        first_day=plan.first_day,
        end_day=plan.end_day,
        dimension=dimension,
        key=key,
        channel=channel,
        group=group,
    )
    if not funnel:
        rates = {}
    for since, until in plan.edges:
        edge = dataclasses.replace(
            selection,
            since=since if since is not None else selection.since,
            until=until if until is not None else selection.until,
        )
        edge_rows, edge_rates = _direct(workspace, edge, by_channel=by_channel, funnel=funnel)
        _add(rows, edge_rows, agg.RESPONSE_COUNTS)
        _add(rates, edge_rates, agg.FUNNEL_COUNTS)
    return rows, rates


def _rollup_rows(
    selection: Selection, *, by_channel: bool
) -> tuple[str, str | None, str | None, str] | None:
    """(dimension, key, channel, group) of the rollup rows that answer the selection, None when
    there are none (an agent with another filter, three breakdowns besides the channel)."""
    chosen = {
        name: value
        for name, value in (
            ("team", None if selection.team_id is None else str(selection.team_id)),
            ("agent", None if selection.agent_id is None else str(selection.agent_id)),
            ("segment", selection.segment),
            ("language", selection.language),
        )
        if value is not None
    }
    group = "key" if by_channel else ""
    if not chosen:
        if selection.channel is None and not by_channel:
            return "", None, None, ""
        return "channel", selection.channel, None, group
    if len(chosen) == 1 and selection.channel is None and not by_channel:
        ((name, value),) = chosen.items()
        return name, value, None, ""
    if "agent" in chosen or len(chosen) > 2:
        return None
    names = sorted(chosen, key=rollups.COMBINED.index)
    key = rollups.combo_key(chosen[n] for n in names)
    return rollups.combo_dimension(names), key, selection.channel, "channel" if by_channel else ""


def _add(into: Counts, more: Counts, names: tuple[str, ...]) -> None:
    for key, counts in more.items():
        target = into.setdefault(key, dict.fromkeys(names, 0))
        for name in names:
            target[name] = target.get(name, 0) + counts.get(name, 0)


def _direct(
    workspace: Workspace, selection: Selection, *, by_channel: bool, funnel: bool
) -> tuple[Counts, Counts]:
    """The reference definition: every matching response, website answer and invitation."""
    rows: Counts = {}
    responses = _responses(workspace, selection)
    if by_channel:
        found: list[dict[str, Any]] = [
            dict(r)
            for r in responses.values(group=F("channel"))
            .annotate(**agg.response_counts())
            .order_by()
        ]
    else:
        found = [{"group": "", **responses.aggregate(**agg.response_counts())}]
    for r in found:
        if r["responses"]:
            rows[agg.group_key(r["group"])] = _ints(r, agg.RESPONSE_COUNTS)
    intercepts = _intercepts(workspace, selection)
    if intercepts is not None:
        website = intercepts.aggregate(**agg.response_counts())
        if website["responses"]:
            key = agg.WEBSITE_CHANNEL if by_channel else ""
            _add(rows, {key: _ints(website, agg.RESPONSE_COUNTS)}, agg.RESPONSE_COUNTS)
    rates: Counts = {}
    if funnel:
        invitations = _invitations(workspace, selection)
        sent: Any
        if by_channel:
            sent = (
                invitations.values(group=agg.invitation_channel())
                .annotate(**agg.funnel_counts())
                .order_by()
            )
        else:
            sent = [{"group": "", **invitations.aggregate(**agg.funnel_counts())}]
        for r in sent:
            if r["sent"]:
                rates[agg.group_key(r["group"])] = _ints(r, agg.FUNNEL_COUNTS)
    return rows, rates


def _ints(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, int]:
    return {name: int(row[name] or 0) for name in names}


def _responses(workspace: Workspace, s: Selection) -> QuerySet[Response]:
    qs = Response.objects.filter(
        workspace=workspace, created_at__gte=s.since, created_at__lt=s.until
    )
    if s.channel is not None:
        qs = qs.filter(channel=s.channel)
    if s.team_id is not None:
        qs = qs.filter(team_id=s.team_id)
    if s.agent_id is not None:
        qs = qs.filter(agent_id=s.agent_id)
    if s.segment is not None:
        qs = qs.filter(segment=s.segment)
    if s.language is not None:
        qs = qs.filter(language=s.language)
    return qs


def _intercepts(workspace: Workspace, s: Selection) -> QuerySet[InterceptAnswer] | None:
    """Website answers match no team, agent or segment but the empty one."""
    if s.team_id is not None or s.agent_id is not None or s.segment not in (None, ""):
        return None
    if s.channel not in (None, agg.WEBSITE_CHANNEL):
        return None
    qs = InterceptAnswer.objects.filter(
        workspace=workspace, created_at__gte=s.since, created_at__lt=s.until
    )
    if s.language is not None:
        qs = qs.filter(language=s.language)
    return qs


def _invitations(workspace: Workspace, s: Selection) -> QuerySet[Invitation]:
    qs = Invitation.objects.filter(
        workspace=workspace,
        sent_at__gte=s.since,
        sent_at__lt=s.until,
        status__in=[Invitation.Status.SENT, Invitation.Status.BOUNCED],
    )
    if s.channel is not None:
        qs = qs.alias(about=agg.invitation_channel()).filter(about=s.channel)
    if s.team_id is not None:
        qs = qs.filter(team_id=s.team_id)
    if s.agent_id is not None:
        qs = qs.filter(agent_id=s.agent_id)
    if s.segment is not None:
        # A subquery per invitation of the period rather than a join: when the planner misjudges
        # how many customers have the tier, the join starts from them and scans the period's
        # invitations once per customer (1 s at 1M invitations); the period's are few.
        tier = Customer.objects.filter(pk=OuterRef("customer_id")).values("value_tier")[:1]
        qs = qs.alias(tier=Subquery(tier)).filter(tier=s.segment)
    if s.language is not None:
        qs = qs.filter(language=s.language)
    return qs
