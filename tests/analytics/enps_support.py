"""Builders shared by the employee NPS tests: agents who were members before the pulses, and
pulses (open or closed) with answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ascolto.analytics.enps.models import Pulse, PulseAnswer
from tests.accounts.factories import MembershipFactory, UserFactory

LONG_AGO = dt.timedelta(days=400)


def agents(workspace: Any, n: int, *, role: str = "agent") -> list[Any]:
    """`n` members with `role`, members for long enough to be asked by any pulse of a test."""
    users = []
    for _ in range(n):
        user = UserFactory()
        MembershipFactory(
            workspace=workspace, user=user, role=role, created_at=timezone.now() - LONG_AGO
        )
        users.append(user)
    return users


def pulse(
    workspace: Any,
    *,
    months_ago: int = 0,
    is_open: bool = False,
    asked: int = 10,
    scores: tuple[int, ...] = (),
    comments: tuple[str, ...] = (),
) -> Pulse:
    """A pulse of the month `months_ago` months back, open now or closed, with answers already
    anonymous (as after closing)."""
    now = timezone.now()
    opens = now - dt.timedelta(days=1 + 31 * months_ago)
    closes = now + dt.timedelta(days=13) if is_open else opens + dt.timedelta(days=14)
    if not is_open and closes > now:
        opens, closes = now - dt.timedelta(days=20), now - dt.timedelta(days=6)
    p = Pulse.objects.create(
        workspace=workspace,
        period_start=opens.date().replace(day=1),
        cadence="monthly",
        opens_at=opens,
        closes_at=closes,
        asked=asked,
    )
    texts = list(comments) + [""] * (len(scores) - len(comments))
    PulseAnswer.objects.bulk_create(
        PulseAnswer(workspace=workspace, pulse=p, score=s, comment=c)
        for s, c in zip(scores, texts, strict=True)
    )
    return p
