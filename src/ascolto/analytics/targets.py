"""Metric owners and targets: setting them, checking them, alerting owners and the weekly digest.

A target is judged on the last 7 whole days (workspace time zone) without other filters. An
off-target metric gets one unread in-app alert for its owner (not one per check) and appears in
the owner's weekly email digest, sent at most once per ISO week per owner (`DigestSent`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ascolto.accounts.models import Membership, User
from ascolto.analytics.dashboards.figures import format_value
from ascolto.analytics.dashboards.filters import DashboardFilters, period_of
from ascolto.analytics.dashboards.metrics import CATALOGUE, metric_values
from ascolto.analytics.models import DigestSent, MetricAlert, MetricTarget
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace

JUDGED_DAYS = 7


def target_set(
    *, workspace: Workspace, metric: str, owner: User, target: float, direction: str
) -> MetricTarget:
    """Create or change the metric's target and owner. Raises ValidationFailed for an unknown
    metric or direction, or an owner who is not a member of the workspace."""
    if metric not in CATALOGUE:
        raise ValidationFailed(
            _("Unknown metric."), field_errors={"metric": [_("Unknown metric.")]}
        )
    if direction not in MetricTarget.Direction.values:
        raise ValidationFailed(
            _("Unknown direction."), field_errors={"direction": [_("Unknown direction.")]}
        )
    if not Membership.objects.filter(workspace=workspace, user=owner).exists():
        raise ValidationFailed(
            _("The owner must be a member of the workspace."),
            field_errors={"owner": [_("Not a member of this workspace.")]},
        )
    row, _created = MetricTarget.objects.update_or_create(
        workspace=workspace,
        metric=metric,
        defaults={"owner": owner, "target": target, "direction": direction},
    )
    return row


def target_remove(*, workspace: Workspace, metric: str) -> bool:
    """Remove the metric's target (and its alerts). Returns whether there was one."""
    deleted, _rows = MetricTarget.objects.filter(workspace=workspace, metric=metric).delete()
    return deleted > 0


def judged_filters(workspace: Workspace, now: dt.datetime) -> DashboardFilters:
    zone = ZoneInfo(workspace.timezone)
    last = now.astimezone(zone).date() - dt.timedelta(days=1)
    return DashboardFilters(period=period_of(last - dt.timedelta(days=JUDGED_DAYS - 1), last, zone))


@dataclass(frozen=True)
class TargetStatus:
    target: MetricTarget
    value: float | None

    @property
    def off_target(self) -> bool:
        return self.value is not None and not self.target.is_met(self.value)


def target_statuses(*, workspace: Workspace, now: dt.datetime) -> list[TargetStatus]:
    targets = list(MetricTarget.objects.filter(workspace=workspace).select_related("owner"))
    if not targets:
        return []
    values = metric_values(workspace=workspace, filters=judged_filters(workspace, now), now=now)
    return [TargetStatus(target=t, value=values.get(t.metric)) for t in targets]


def targets_check(*, workspace: Workspace, now: dt.datetime) -> list[MetricAlert]:
    """Alert each off-target metric's owner, unless an unread alert for it is still there."""
    filters = judged_filters(workspace, now)
    created = []
    for status in target_statuses(workspace=workspace, now=now):
        if not status.off_target or status.value is None:
            continue
        if MetricAlert.objects.filter(target=status.target, read_at__isnull=True).exists():
            continue
        try:
            with transaction.atomic():
                created.append(
                    MetricAlert.objects.create(
                        workspace=workspace,
                        target=status.target,
                        owner=status.target.owner,
                        value=status.value,
                        period_start=filters.period.start,
                        period_end=filters.period.end,
                    )
                )
        except IntegrityError:  # another worker alerted first
            continue
    return created


def unread_alerts(*, workspace: Workspace, user: User) -> QuerySet[MetricAlert]:
    return MetricAlert.objects.filter(
        workspace=workspace, owner=user, read_at__isnull=True
    ).select_related("target")


def alert_mark_read(*, workspace: Workspace, user: User, alert_id: int) -> MetricAlert:
    alert = MetricAlert.objects.filter(workspace=workspace, owner=user, pk=alert_id).first()
    if alert is None:
        raise NotFound(_("No such alert."))
    if alert.read_at is None:
        alert.read_at = timezone.now()
        alert.save(update_fields=["read_at", "updated_at"])
    return alert


def iso_week(moment: dt.datetime) -> str:
    year, week, _day = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _digest_text(workspace: Workspace, statuses: list[TargetStatus]) -> str:
    lines = [_("Your metrics in %(workspace)s, last 7 days:") % {"workspace": workspace.name}, ""]
    for s in statuses:
        d = CATALOGUE[s.target.metric]
        mark = _("OFF TARGET") if s.off_target else _("on target")
        lines.append(
            f"- {d.label}: {format_value(s.value, d.unit)} "
            f"({_('target')} {format_value(s.target.target, d.unit)}) {mark}"
        )
    return "\n".join(lines)


def weekly_digests_send(*, now: dt.datetime) -> int:
    """Email every target owner the state of their metrics, once per ISO week. Returns how many
    emails went out. The digest row and the email share a transaction: a failed send is retried
    by the next run."""
    week = iso_week(now)
    sent = 0
    workspace_ids = MetricTarget.objects.values_list("workspace_id", flat=True).distinct()
    for workspace in Workspace.objects.filter(pk__in=workspace_ids).order_by("pk"):
        statuses = target_statuses(workspace=workspace, now=now)
        targets_check(workspace=workspace, now=now)
        by_owner: dict[int, list[TargetStatus]] = {}
        for s in statuses:
            by_owner.setdefault(s.target.owner_id, []).append(s)
        for owner_id, mine in sorted(by_owner.items()):
            owner = mine[0].target.owner
            if not owner.email:
                continue
            with transaction.atomic():
                _row, created = DigestSent.objects.get_or_create(
                    workspace=workspace, owner_id=owner_id, week=week
                )
                if not created:
                    continue
                with translation.override(owner.locale or workspace.default_locale):
                    off = sum(1 for s in mine if s.off_target)
                    subject = _("Weekly metrics: %(off)s of %(n)s off target") % {
                        "off": off,
                        "n": len(mine),
                    }
                    body = _digest_text(workspace, mine)
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [owner.email])
                sent += 1
    return sent
