"""Reads of employee NPS, each scoped by the workspace: the schedule, the pulse an agent is asked
now, and the pulses' results (with the thresholds that keep answers anonymous)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.db.models import Count, Q
from django.utils.crypto import salted_hmac

from ascolto.accounts.models import Membership, Role, User
from ascolto.analytics.enps.metric import Enps, enps_from_counts
from ascolto.analytics.enps.models import Pulse, PulseAnswer, PulseSchedule
from ascolto.core.models import Workspace
from ascolto.surveys import metrics as survey_metrics

RECENT_PULSES = 12
HASH_SALT = "ascolto.analytics.enps.respondent"


def respondent_hash(*, pulse: Pulse, user: User) -> str:
    """The keyed hash (HMAC-SHA256 with SECRET_KEY) that stands for the agent on an answer."""
    return salted_hmac(HASH_SALT, f"{pulse.pk}:{user.pk}", algorithm="sha256").hexdigest()


def schedule_of(*, workspace: Workspace) -> PulseSchedule:
    """The workspace's schedule; the default one (monthly, 14 days, unsaved) when never set."""
    row = PulseSchedule.objects.filter(workspace=workspace).first()
    return row or PulseSchedule(workspace=workspace)


def pulse_of(*, workspace: Workspace, pk: int) -> Pulse | None:
    return Pulse.objects.filter(workspace=workspace, pk=pk).first()


def open_pulse(*, workspace: Workspace, now: dt.datetime) -> Pulse | None:
    return (
        Pulse.objects.filter(workspace=workspace, opens_at__lte=now, closes_at__gt=now)
        .order_by("-opens_at")
        .first()
    )


def is_asked(*, pulse: Pulse, user: User) -> bool:
    """Whether the user is one of the pulse's agents: an agent of its workspace who was already
    a member when it opened (who joins later is asked from the next pulse, so the response rate
    keeps its denominator)."""
    return Membership.objects.filter(
        workspace_id=pulse.workspace_id,
        user=user,
        role=Role.AGENT,
        created_at__lte=pulse.opens_at,
    ).exists()


def pulse_to_ask(*, workspace: Workspace, user: User, now: dt.datetime) -> Pulse | None:
    """The open pulse the user should be asked: they are one of its agents and have not
    answered it yet. None otherwise."""
    pulse = open_pulse(workspace=workspace, now=now)
    if pulse is None or not is_asked(pulse=pulse, user=user):
        return None
    answered = PulseAnswer.objects.filter(
        pulse=pulse, respondent_hash=respondent_hash(pulse=pulse, user=user)
    ).exists()
    return None if answered else pulse


@dataclass(frozen=True)
class PulseResult:
    """A pulse with its figures. While a pulse is open only its participation is shown: a
    score that moved after each answer would tell who answered what. Comments come with the
    score, from MIN_ANSWERS answers on, in an order unrelated to when they were written."""

    pulse: Pulse
    enps: Enps
    is_open: bool
    comments: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        return None if self.is_open else self.enps.score

    @property
    def shown(self) -> bool:
        return self.score is not None


def pulse_results(
    *,
    workspace: Workspace,
    now: dt.datetime,
    limit: int = RECENT_PULSES,
    with_comments: bool = False,
) -> list[PulseResult]:
    """The workspace's latest pulses, newest first, with their figures (two queries, three
    with the comments)."""
    pulses = list(
        Pulse.objects.filter(workspace=workspace, opens_at__lte=now).order_by("-period_start")[
            :limit
        ]
    )
    counts = {
        row["pulse_id"]: row
        for row in PulseAnswer.objects.filter(workspace=workspace, pulse__in=pulses)
        .values("pulse_id")
        .annotate(
            n=Count("id"),
            promoters=Count("id", filter=Q(score__gte=survey_metrics.PROMOTER_MIN)),
            detractors=Count("id", filter=Q(score__lte=survey_metrics.DETRACTOR_MAX)),
        )
        .order_by()
    }
    results = []
    for p in pulses:
        row = counts.get(p.pk, {"n": 0, "promoters": 0, "detractors": 0})
        results.append(
            PulseResult(
                pulse=p,
                enps=enps_from_counts(
                    promoters=row["promoters"],
                    passives=row["n"] - row["promoters"] - row["detractors"],
                    detractors=row["detractors"],
                    asked=p.asked,
                ),
                is_open=p.is_open(now),
            )
        )
    if not with_comments:
        return results
    comments: dict[int, list[str]] = {}
    for pulse_id, text in (
        PulseAnswer.objects.filter(
            workspace=workspace, pulse__in=[r.pulse for r in results if r.shown]
        )
        .exclude(comment="")
        .order_by("comment")
        .values_list("pulse_id", "comment")
    ):
        comments.setdefault(pulse_id, []).append(text)
    return [replace(r, comments=comments.get(r.pulse.pk, [])) for r in results]


def latest_closed(*, workspace: Workspace, now: dt.datetime, count: int) -> list[PulseResult]:
    """The `count` latest closed pulses, newest first (the dashboards' figure and trend)."""
    results = pulse_results(workspace=workspace, now=now, limit=count + 1)
    return [r for r in results if not r.is_open][:count]
