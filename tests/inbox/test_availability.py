"""Availability history: every change of an agent's availability is kept as spans, so that
online time (and occupancy) can be read for any period."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.inbox import routing
from ascolto.inbox.models import AvailabilitySpan
from tests.accounts.factories import MembershipFactory, UserFactory

SYSTEM = Actor.system("test")
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the moment the service sees: clock(minutes after T0)."""

    def at(minutes: float) -> None:
        moment = T0 + dt.timedelta(minutes=minutes)
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return at


def member(workspace: Any) -> Any:
    user = UserFactory(password=None)
    MembershipFactory(workspace=workspace, user=user)
    return user


def spans(workspace: Any, user: Any) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    return list(
        AvailabilitySpan.objects.filter(workspace=workspace, agent=user)
        .order_by("started_at", "id")
        .values_list("status", "started_at", "ended_at")
    )


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_each_change_closes_the_current_span_and_offline_opens_none(workspace, clock):
    anna = member(workspace)

    for minute, availability in [(0, "online"), (30, "away"), (45, "online"), (90, "offline")]:
        clock(minute)
        routing.agent_set_availability(
            workspace=workspace, user=anna, availability=availability, actor=SYSTEM
        )

    assert spans(workspace, anna) == [
        ("online", at(0), at(30)),
        ("away", at(30), at(45)),
        ("online", at(45), at(90)),
    ]


def test_the_current_span_stays_open_and_setting_the_same_value_changes_nothing(workspace, clock):
    anna = member(workspace)
    clock(0)
    routing.agent_set_availability(
        workspace=workspace, user=anna, availability="online", actor=SYSTEM
    )
    clock(10)
    routing.agent_set_availability(
        workspace=workspace, user=anna, availability="online", actor=SYSTEM
    )

    assert spans(workspace, anna) == [("online", at(0), None)]


def test_going_offline_when_already_offline_records_nothing(workspace, clock):
    anna = member(workspace)
    clock(0)
    routing.agent_set_availability(
        workspace=workspace, user=anna, availability="offline", actor=SYSTEM
    )

    assert spans(workspace, anna) == []


def test_a_refused_change_records_no_span(workspace, other_workspace, clock):
    anna = member(workspace)
    clock(0)
    with pytest.raises(ValidationFailed):
        routing.agent_set_availability(
            workspace=workspace, user=anna, availability="busy", actor=SYSTEM
        )
    with pytest.raises(ValidationFailed):
        routing.agent_set_availability(
            workspace=other_workspace, user=anna, availability="online", actor=SYSTEM
        )

    assert not AvailabilitySpan.objects.exists()


def test_spans_belong_to_their_workspace(workspace, other_workspace, clock):
    anna = member(workspace)
    MembershipFactory(workspace=other_workspace, user=anna)
    clock(0)
    routing.agent_set_availability(
        workspace=workspace, user=anna, availability="online", actor=SYSTEM
    )
    clock(5)
    routing.agent_set_availability(
        workspace=other_workspace, user=anna, availability="away", actor=SYSTEM
    )
    clock(10)
    routing.agent_set_availability(
        workspace=workspace, user=anna, availability="offline", actor=SYSTEM
    )

    assert spans(workspace, anna) == [("online", at(0), at(10))]
    assert spans(other_workspace, anna) == [("away", at(5), None)]


def test_the_span_is_written_in_the_callers_transaction(workspace, clock):
    anna = member(workspace)
    clock(0)

    with transaction.atomic():
        routing.agent_set_availability(
            workspace=workspace, user=anna, availability="online", actor=SYSTEM
        )
        transaction.set_rollback(True)

    assert spans(workspace, anna) == []


def test_an_agent_has_at_most_one_open_span(workspace):
    anna = member(workspace)
    AvailabilitySpan.objects.create(workspace=workspace, agent=anna, status="online", started_at=T0)

    with pytest.raises(IntegrityError), transaction.atomic():
        AvailabilitySpan.objects.create(
            workspace=workspace, agent=anna, status="away", started_at=at(1)
        )
