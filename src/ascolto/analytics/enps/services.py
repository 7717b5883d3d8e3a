"""Writes of employee NPS: the schedule, opening pulses, answering, and erasing the link
between answers and agents when a pulse closes.

An answer is deliberately not written to the audit log, the outbox or the realtime events: each
of those names the acting user, and an answer must not. A second answer by the same agent to
the same pulse replaces the first while the pulse is open (people change their mind; the count
stays one per agent); a closed pulse refuses answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ascolto.accounts.models import Membership, Role, User
from ascolto.analytics.enps.metric import SCORE_MAX, SCORE_MIN
from ascolto.analytics.enps.models import (
    COMMENT_MAX_LENGTH,
    MAX_OPEN_DAYS,
    Cadence,
    Pulse,
    PulseAnswer,
    PulseSchedule,
)
from ascolto.analytics.enps.selectors import is_asked, respondent_hash, schedule_of
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, Forbidden, ValidationFailed
from ascolto.core.models import Workspace

logger = logging.getLogger(__name__)


def schedule_set(
    *, workspace: Workspace, cadence: str, open_days: int, actor: Actor
) -> PulseSchedule:
    """Set how often the agents are asked and for how many days each pulse stays open. Raises
    ValidationFailed for an unknown cadence or days outside 1-MAX_OPEN_DAYS. A pulse already
    open keeps its dates."""
    errors: dict[str, list[str]] = {}
    if cadence not in Cadence.values:
        errors["cadence"] = [_("Choose monthly, quarterly or off.")]
    if not 1 <= open_days <= MAX_OPEN_DAYS:
        errors["open_days"] = [
            _("A pulse stays open from 1 to %(max)s days.") % {"max": MAX_OPEN_DAYS}
        ]
    if errors:
        raise ValidationFailed(_("The pulse schedule is not valid."), field_errors=errors)
    before = schedule_of(workspace=workspace)
    row, _created = PulseSchedule.objects.update_or_create(
        workspace=workspace, defaults={"cadence": cadence, "open_days": open_days}
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="analytics.enps.schedule_set",
        object_type="pulse_schedule",
        object_id=row.pk,
        changes={
            "cadence": [before.cadence, cadence],
            "open_days": [before.open_days, open_days],
        },
    )
    return row


def period_start(*, cadence: str, day: dt.date) -> dt.date:
    """The first day of the month or quarter that holds `day`."""
    if cadence == Cadence.QUARTERLY:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(day=1)


def pulse_open_due(*, workspace: Workspace, now: dt.datetime) -> Pulse | None:
    """Open the pulse of the current period (workspace time zone) if it is due: the cadence is
    not off, the workspace has agents, and the period has no pulse yet. Returns the new pulse,
    or None. Safe to run twice or on two workers at once: the unique constraint on (workspace,
    period) lets one insert win, and the other gets None."""
    schedule = schedule_of(workspace=workspace)
    if schedule.cadence == Cadence.OFF:
        return None
    today = now.astimezone(ZoneInfo(workspace.timezone)).date()
    start = period_start(cadence=schedule.cadence, day=today)
    if Pulse.objects.filter(workspace=workspace, period_start=start).exists():
        return None
    # A workspace that switched from monthly to quarterly would otherwise open a second pulse
    # inside a quarter whose first month already had one.
    if Pulse.objects.filter(workspace=workspace, closes_at__gt=now).exists():
        return None
    asked = Membership.objects.filter(workspace=workspace, role=Role.AGENT).count()
    if asked == 0:
        return None
    try:
        with transaction.atomic():
            return Pulse.objects.create(
                workspace=workspace,
                period_start=start,
                cadence=schedule.cadence,
                opens_at=now,
                closes_at=now + dt.timedelta(days=schedule.open_days),
                asked=asked,
            )
    except IntegrityError:  # another worker opened it first
        return None


def pulses_open_due(*, now: dt.datetime) -> list[Pulse]:
    """Open the due pulse of every workspace that has agents. A workspace that fails is logged
    and the others still run."""
    opened = []
    ids = Membership.objects.filter(role=Role.AGENT).values("workspace_id")
    for workspace in Workspace.objects.filter(pk__in=ids).order_by("pk"):
        try:
            pulse = pulse_open_due(workspace=workspace, now=now)
        except Exception:
            logger.exception("Opening the pulse of workspace %s failed", workspace.pk)
            continue
        if pulse is not None:
            opened.append(pulse)
    return opened


def pulses_forget_respondents(*, now: dt.datetime) -> int:
    """Erase the respondent hashes of closed pulses: once a pulse cannot be answered, nothing
    links an answer to an agent, even for someone holding the database and SECRET_KEY. Returns
    how many answers were cleared."""
    return PulseAnswer.objects.filter(
        pulse__closes_at__lte=now, respondent_hash__isnull=False
    ).update(respondent_hash=None)


def pulse_answer(
    *, pulse: Pulse, user: User, score: int, comment: str, now: dt.datetime
) -> tuple[PulseAnswer, bool]:
    """Record the agent's answer to the open pulse, or replace their earlier one. Returns the
    answer and whether it replaced one. Raises Conflict when the pulse is not open, Forbidden
    when the user is not one of the agents asked, ValidationFailed for a score outside 0-10 or
    a comment too long."""
    if not pulse.is_open(now):
        raise Conflict(_("This pulse is closed."))
    if not is_asked(pulse=pulse, user=user):
        raise Forbidden(_("Only the agents of this workspace are asked this question."))
    errors: dict[str, list[str]] = {}
    if not SCORE_MIN <= score <= SCORE_MAX:
        errors["score"] = [_("Choose a number from 0 to 10.")]
    text = comment.strip()
    if len(text) > COMMENT_MAX_LENGTH:
        errors["comment"] = [
            _("A comment has at most %(n)s characters.") % {"n": COMMENT_MAX_LENGTH}
        ]
    if errors:
        raise ValidationFailed(_("The answer is not valid."), field_errors=errors)
    key = respondent_hash(pulse=pulse, user=user)
    values = {"score": score, "comment": text}
    try:
        with transaction.atomic():
            answer, created = PulseAnswer.objects.update_or_create(
                pulse=pulse,
                respondent_hash=key,
                defaults=values,
                create_defaults={**values, "workspace_id": pulse.workspace_id},
            )
    except IntegrityError:  # the same agent's other request inserted first
        answer = PulseAnswer.objects.get(pulse=pulse, respondent_hash=key)
        answer.score, answer.comment = score, text
        answer.save(update_fields=["score", "comment"])
        created = False
    return answer, not created
