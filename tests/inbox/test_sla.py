"""SLA clocks against hand-computed cases (business hours, pauses, reopen), the periodic check,
escalations and the periodic jobs.

The calendar is a Rome office, Monday to Friday 09:00-13:00 and 14:00-18:00, closed on
Christmas. Times are set with the `clock` fixture so that the services' own timestamps (status
changes, replies) fall where the hand computation puts them.
"""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import django.utils.timezone
import pytest
from django.conf import settings
from django.db import connection

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.core.tasks import exclusive
from ascolto.inbox import services, sla, tasks
from ascolto.inbox.models import BusinessHours, Conversation, ConversationEvent, SLAAlert, SLAPolicy
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

ROME = ZoneInfo("Europe/Rome")
SPLIT_DAY = [["09:00", "13:00"], ["14:00", "18:00"]]
OFFICE = {day: SPLIT_DAY for day in ("mon", "tue", "wed", "thu", "fri")}


def rome(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ROME)


def monday(hour: int, minute: int = 0) -> dt.datetime:
    return rome(2026, 12, 14, hour, minute)


def tuesday(hour: int, minute: int = 0) -> dt.datetime:
    return rome(2026, 12, 15, hour, minute)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def set(self, moment: dt.datetime) -> None:
        self.now = moment.astimezone(dt.UTC)


@pytest.fixture
def clock(monkeypatch):
    """Moves `django.utils.timezone.now()` (and so every `default=now` column) to `clock.now`."""
    state = Clock()

    class FrozenDatetime(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return state.now.astimezone(tz) if tz is not None else state.now.replace(tzinfo=None)

    monkeypatch.setattr(django.utils.timezone, "datetime", FrozenDatetime)
    return state


@pytest.fixture
def agent(workspace):
    """A member agent; no password hashing, since nobody logs in here."""
    user = UserFactory(password=None)
    MembershipFactory(workspace=workspace, user=user, role="agent")
    return user


@pytest.fixture
def office(workspace):
    return BusinessHours.objects.create(
        workspace=workspace,
        name="Rome office",
        timezone="Europe/Rome",
        schedule=OFFICE,
        holidays=["2026-12-25"],
    )


@pytest.fixture
def policy(workspace, office):
    return SLAPolicy.objects.create(
        workspace=workspace,
        name="Standard",
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=480,
        business_hours=office,
        warn_before_minutes=15,
        escalation=["notify"],
    )


@pytest.fixture
def inbox(workspace):
    return InboxFactory(workspace=workspace, routing="manual")


@pytest.fixture
def customer(workspace):
    return CustomerFactory(workspace=workspace)


def dispatch() -> None:
    """Run every outbox event not yet dispatched, as the worker would after commit."""
    for event_id in (
        OutboxEvent.objects.filter(dispatched_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    ):
        outbox.dispatch_event(event_id)
    failed = OutboxEvent.objects.filter(last_error__contains="ascolto.inbox.handlers")
    assert not failed.exists(), failed.first().last_error


def receive(clock, inbox, customer, when, text="help") -> Conversation:
    clock.set(when)
    result = services.message_receive(inbox=inbox, customer=customer, text=text, occurred_at=when)
    dispatch()
    return Conversation.objects.get(pk=result.conversation.pk)


def reply(clock, conversation, agent, when) -> Conversation:
    clock.set(when)
    services.message_send(
        conversation=conversation, author=agent, actor=Actor.for_user(agent), text="on it"
    )
    dispatch()
    return Conversation.objects.get(pk=conversation.pk)


def set_status(clock, conversation, status, when, actor) -> Conversation:
    clock.set(when)
    services.conversation_set_status(conversation=conversation, status=status, actor=actor)
    dispatch()
    return Conversation.objects.get(pk=conversation.pk)


def check(clock, when) -> sla.CheckResult:
    clock.set(when)
    result = sla.sla_check(now=when)
    dispatch()
    return result


def alerts(conversation) -> list[tuple[str, str]]:
    return list(
        SLAAlert.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("target", "kind")
    )


# --- Due times ------------------------------------------------------------------------------------


def test_friday_evening_message_is_due_monday_morning(clock, policy, inbox, customer):
    conversation = receive(clock, inbox, customer, rome(2026, 12, 18, 17, 30))

    assert conversation.sla_policy == policy
    assert conversation.first_response_due_at == rome(2026, 12, 21, 9, 30)
    # 30 minutes on Friday, then 09:00-13:00 and 14:00-17:30 on Monday: 8 hours.
    assert conversation.resolution_due_at == rome(2026, 12, 21, 17, 30)
    assert conversation.next_response_due_at is None


def test_christmas_eve_message_is_due_after_the_holiday(clock, policy, inbox, customer):
    conversation = receive(clock, inbox, customer, rome(2026, 12, 24, 17, 30))
    assert conversation.first_response_due_at == rome(2026, 12, 28, 9, 30)


def test_two_business_hours_pending_extend_the_resolution_due_by_two_business_hours(
    clock, policy, inbox, customer, agent, actor
):
    conversation = receive(clock, inbox, customer, monday(9))
    assert conversation.resolution_due_at == monday(18)
    conversation = reply(clock, conversation, agent, monday(9, 10))

    conversation = set_status(clock, conversation, "pending", monday(12), actor)
    assert conversation.sla_paused_at == monday(12)
    assert conversation.resolution_due_at == monday(18)  # extended only once the pause ends

    # 12:00-13:00 and 14:00-15:00: two business hours, the lunch break does not count.
    conversation = set_status(clock, conversation, "open", monday(15), actor)
    assert conversation.sla_paused_at is None
    assert conversation.resolution_due_at == tuesday(11)


def test_the_customer_writing_back_resumes_the_clock_and_starts_a_next_response_target(
    clock, policy, inbox, customer, agent, actor
):
    conversation = receive(clock, inbox, customer, monday(9))
    conversation = reply(clock, conversation, agent, monday(9, 10))
    conversation = set_status(clock, conversation, "pending", monday(17), actor)

    # Pending from Monday 17:00 to Tuesday 10:00: 17-18 and 09-10, two business hours.
    conversation = receive(clock, inbox, customer, tuesday(10), text="still broken")

    assert conversation.status == "open"
    assert conversation.sla_paused_at is None
    assert conversation.resolution_due_at == tuesday(11)
    assert conversation.next_response_due_at == tuesday(10, 30)
    assert conversation.first_response_due_at == monday(10)  # kept, and met


def test_a_reopened_conversation_keeps_its_first_response(
    clock, policy, inbox, customer, agent, actor
):
    conversation = receive(clock, inbox, customer, monday(9))
    conversation = reply(clock, conversation, agent, monday(9, 10))
    conversation = set_status(clock, conversation, "resolved", monday(10), actor)
    assert conversation.sla_paused_at == monday(10)

    conversation = receive(clock, inbox, customer, tuesday(9), text="it happened again")

    assert conversation.reopen_count == 1
    assert conversation.first_response_at == monday(9, 10)
    assert conversation.next_response_due_at == tuesday(9, 30)
    # One business hour was used before resolving; the seven left run from Tuesday 09:00.
    assert conversation.resolution_due_at == tuesday(17)
    assert check(clock, tuesday(9, 20)).warnings == 1
    assert alerts(conversation) == [("next_response", "warning")]


def test_the_reply_clears_the_next_response_target(clock, policy, inbox, customer, agent):
    conversation = receive(clock, inbox, customer, monday(9))
    conversation = reply(clock, conversation, agent, monday(9, 10))
    conversation = receive(clock, inbox, customer, monday(11), text="and another thing")
    conversation = receive(clock, inbox, customer, monday(11, 5), text="hello?")
    assert conversation.next_response_due_at == monday(11, 30)  # from the first unanswered one

    conversation = reply(clock, conversation, agent, monday(11, 20))
    assert conversation.next_response_due_at is None
    assert check(clock, monday(12)).breaches == 0


def test_policies_match_by_priority_tier_and_channel_in_position_order(
    clock, workspace, inbox, office
):
    def make(name, position, **match):
        return SLAPolicy.objects.create(
            workspace=workspace, name=name, position=position, first_response_minutes=60, **match
        )

    make("Inactive", 0, is_active=False)
    email = make("Email", 1, channel="email")
    platinum = make("Platinum", 2, value_tier="platinum")
    urgent = make("Urgent", 3, priority=Conversation.Priority.URGENT)
    default = make("Everyone", 4)

    def policy_of(tier="", priority=Conversation.Priority.NORMAL):
        customer = CustomerFactory(workspace=workspace, value_tier=tier)
        conversation = services.message_receive(
            inbox=inbox, customer=customer, text="hi"
        ).conversation
        conversation.priority = priority
        return sla.policy_for(conversation)

    assert policy_of("platinum") == platinum
    assert policy_of("gold", Conversation.Priority.URGENT) == urgent
    assert policy_of("gold") == default
    email_inbox = InboxFactory(workspace=workspace, channel="email")
    customer = CustomerFactory(workspace=workspace, value_tier="platinum")
    conversation = services.message_receive(
        inbox=email_inbox, customer=customer, text="hi"
    ).conversation
    assert sla.policy_for(conversation) == email


def test_without_a_policy_there_are_no_targets(clock, inbox, customer):
    conversation = receive(clock, inbox, customer, monday(9))
    assert conversation.sla_policy is None
    assert conversation.first_response_due_at is None
    assert check(clock, tuesday(9)).conversations == 0


def test_the_team_calendar_applies_when_the_policy_names_none(clock, workspace, customer):
    team = TeamFactory(workspace=workspace)
    BusinessHours.objects.create(
        workspace=workspace, name="Default", timezone="UTC", schedule={"sat": [["00:00", "24:00"]]}
    )
    BusinessHours.objects.create(
        workspace=workspace, name="Team", team=team, timezone="Europe/Rome", schedule=OFFICE
    )
    SLAPolicy.objects.create(workspace=workspace, name="Any", first_response_minutes=60)
    team_inbox = InboxFactory(workspace=workspace, team=team, routing="manual")
    other_inbox = InboxFactory(workspace=workspace, routing="manual")

    assert receive(
        clock, team_inbox, customer, rome(2026, 12, 18, 17, 30)
    ).first_response_due_at == rome(2026, 12, 21, 9, 30)
    # The workspace default (Saturdays only, UTC) for a conversation of no team.
    other = receive(
        clock, other_inbox, CustomerFactory(workspace=workspace), rome(2026, 12, 18, 17, 30)
    )
    assert other.first_response_due_at == dt.datetime(2026, 12, 19, 1, 0, tzinfo=dt.UTC)


def test_round_the_clock_without_any_calendar(clock, workspace, inbox, customer):
    SLAPolicy.objects.create(workspace=workspace, name="24/7", first_response_minutes=60)
    conversation = receive(clock, inbox, customer, rome(2026, 12, 19, 23, 30))
    assert conversation.first_response_due_at == rome(2026, 12, 20, 0, 30)


def test_an_invalid_calendar_counts_round_the_clock_instead_of_dropping_the_sla(
    clock, workspace, inbox, customer
):
    broken = BusinessHours.objects.create(
        workspace=workspace, name="Broken", timezone="Nowhere/Land", schedule=OFFICE
    )
    SLAPolicy.objects.create(
        workspace=workspace, name="P", first_response_minutes=60, business_hours=broken
    )
    conversation = receive(clock, inbox, customer, rome(2026, 12, 19, 23, 30))
    assert conversation.first_response_due_at == rome(2026, 12, 20, 0, 30)


def test_sync_is_idempotent(clock, policy, inbox, customer, agent, actor):
    conversation = receive(clock, inbox, customer, monday(9))
    conversation = set_status(clock, conversation, "pending", monday(9, 30), actor)
    conversation = set_status(clock, conversation, "open", monday(10, 30), actor)
    before = Conversation.objects.values(
        "sla_paused_at", "first_response_due_at", "resolution_due_at", "updated_at"
    ).get(pk=conversation.pk)

    # A redelivered event runs the handlers again, much later.
    clock.set(tuesday(16))
    event = OutboxEvent.objects.filter(name="inbox.conversation.pending").get()
    event.deliveries.all().delete()
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    dispatch()

    after = Conversation.objects.values(
        "sla_paused_at", "first_response_due_at", "resolution_due_at", "updated_at"
    ).get(pk=conversation.pk)
    assert after == before
    assert before["first_response_due_at"] == monday(11)


# --- The check, alerts and escalation -------------------------------------------------------------


def test_a_warning_then_a_breach_each_fire_once(clock, policy, inbox, customer):
    conversation = receive(clock, inbox, customer, monday(9))  # first response due 10:00

    assert check(clock, monday(9, 40)).conversations == 0
    assert check(clock, monday(9, 50)).warnings == 1
    assert check(clock, monday(9, 55)).warnings == 0
    breached = check(clock, monday(10))
    assert (breached.breaches, breached.warnings) == (1, 0)
    assert check(clock, monday(10, 1)).breaches == 0

    assert alerts(conversation) == [("first_response", "warning"), ("first_response", "breach")]
    assert (
        ConversationEvent.objects.filter(
            conversation=conversation, kind="sla", to_value="breach"
        ).count()
        == 1
    )
    notified = OutboxEvent.objects.filter(name="inbox.sla.breached").get()
    assert notified.payload == {
        "conversation_id": conversation.pk,
        "target": "first_response",
        "due_at": monday(10).astimezone(dt.UTC).isoformat(),
    }
    assert OutboxEvent.objects.filter(name="inbox.sla.warning").count() == 1
    assert sla.due_conversation_ids(now=monday(10, 2), limit=10) == []


def test_a_check_that_ran_late_fires_the_breach_without_a_stale_warning(
    clock, policy, inbox, customer
):
    conversation = receive(clock, inbox, customer, monday(9))
    assert check(clock, monday(16)).breaches == 1
    assert alerts(conversation) == [("first_response", "breach")]


def test_answered_conversations_do_not_breach_their_first_response(
    clock, policy, inbox, customer, agent
):
    conversation = receive(clock, inbox, customer, monday(9))
    reply(clock, conversation, agent, monday(9, 59))
    assert check(clock, monday(10, 30)).breaches == 0
    assert alerts(conversation) == []


def test_a_pending_conversation_does_not_breach_and_resumes_with_later_targets(
    clock, policy, inbox, customer, actor
):
    conversation = receive(clock, inbox, customer, monday(9))
    set_status(clock, conversation, "pending", monday(9, 30), actor)
    assert check(clock, monday(12)).breaches == 0

    conversation = set_status(clock, conversation, "open", monday(15), actor)
    # 30 minutes used before pending; the other 30 run from 15:00.
    assert conversation.first_response_due_at == monday(15, 30)
    assert check(clock, monday(15, 20)).warnings == 1
    assert check(clock, monday(15, 30)).breaches == 1


def test_a_pause_after_the_breach_does_not_move_the_deadline(clock, policy, inbox, customer, actor):
    conversation = receive(clock, inbox, customer, monday(9))
    assert check(clock, monday(10, 5)).breaches == 1
    set_status(clock, conversation, "pending", monday(10, 10), actor)
    conversation = set_status(clock, conversation, "open", monday(12), actor)

    assert conversation.first_response_due_at == monday(10)
    assert check(clock, monday(12, 5)).breaches == 0


def test_snoozed_conversations_keep_their_clock_running(clock, policy, inbox, customer, actor):
    conversation = receive(clock, inbox, customer, monday(9))
    clock.set(monday(9, 5))
    services.conversation_set_status(
        conversation=conversation, status="snoozed", actor=actor, snoozed_until=tuesday(9)
    )
    dispatch()
    assert check(clock, monday(10)).breaches == 1


def supervisor(workspace, *, team=None):
    user = UserFactory(password=None)
    MembershipFactory(workspace=workspace, user=user, role="supervisor")
    if team is not None:
        team.members.add(user)
    return user


def test_breach_escalates_to_a_team_supervisor_and_raises_priority(
    clock, workspace, policy, customer, agent, actor
):
    team = TeamFactory(workspace=workspace)
    supervisor(workspace)
    team_lead = supervisor(workspace, team=team)
    policy.escalation = ["reassign_supervisor", "raise_priority"]
    policy.save()
    inbox = InboxFactory(workspace=workspace, team=team, routing="manual")
    conversation = receive(clock, inbox, customer, monday(9))
    services.conversation_assign(conversation=conversation, assignee=agent, actor=actor)

    check(clock, monday(10))

    conversation.refresh_from_db()
    assert conversation.assignee == team_lead
    assert conversation.transfer_count == 1
    assert conversation.priority == Conversation.Priority.HIGH
    transfer = ConversationEvent.objects.filter(conversation=conversation, kind="transferred").get()
    assert transfer.reason == "SLA breached: first_response"
    assert not OutboxEvent.objects.filter(name="inbox.sla.breached").exists()  # no "notify"


def test_priority_stops_at_urgent_and_a_missing_supervisor_does_not_undo_the_breach(
    clock, workspace, policy, inbox, customer
):
    policy.escalation = ["reassign_supervisor", "raise_priority", "notify"]
    policy.save()
    conversation = receive(clock, inbox, customer, monday(9))
    Conversation.objects.filter(pk=conversation.pk).update(priority=Conversation.Priority.HIGH)

    check(clock, monday(10))  # first response breached
    check(clock, monday(18))  # resolution breached

    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert conversation.priority == Conversation.Priority.URGENT
    assert alerts(conversation) == [("first_response", "breach"), ("resolution", "breach")]
    assert OutboxEvent.objects.filter(name="inbox.sla.breached").count() == 2


def test_policy_stays_with_the_conversation_when_priority_rises(
    clock, workspace, office, inbox, customer
):
    SLAPolicy.objects.create(
        workspace=workspace,
        name="Urgent",
        position=0,
        priority=Conversation.Priority.URGENT,
        first_response_minutes=10,
        business_hours=office,
    )
    normal = SLAPolicy.objects.create(
        workspace=workspace,
        name="Normal",
        position=1,
        first_response_minutes=60,
        business_hours=office,
    )
    conversation = receive(clock, inbox, customer, monday(9))
    services.conversation_set_priority(
        conversation=conversation, priority=Conversation.Priority.URGENT, actor=Actor.system()
    )
    conversation = receive(clock, inbox, customer, monday(9, 1), text="please")
    assert conversation.sla_policy == normal
    assert conversation.first_response_due_at == monday(10)


# --- Periodic jobs --------------------------------------------------------------------------------


def test_the_jobs_are_scheduled_every_minute():
    due = {task.name for task in settings.HUEY.read_periodic(dt.datetime(2026, 12, 14, 10, 17))}
    assert {
        tasks.sla_check.s().name,
        tasks.wake_snoozed.s().name,
        tasks.route_waiting.s().name,
    } <= due


def test_the_sla_job_fires_alerts_and_skips_while_another_worker_runs_it(
    clock, policy, inbox, customer
):
    conversation = receive(clock, inbox, customer, monday(9))
    clock.set(monday(10))
    holding, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def other_worker() -> None:
        try:
            with exclusive(tasks.SLA_CHECK_LOCK) as acquired:
                assert acquired
                holding.set()
                release.wait(20)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            holding.set()
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(20)
        assert tasks.sla_check.call_local() is None
        assert alerts(conversation) == []
    finally:
        release.set()
        thread.join(20)
    assert failures == []

    assert tasks.sla_check.call_local() == {"warnings": 0, "breaches": 1}
    assert alerts(conversation) == [("first_response", "breach")]


def test_the_snooze_job_wakes_conversations_up(clock, policy, inbox, customer, actor):
    conversation = receive(clock, inbox, customer, monday(9))
    clock.set(monday(9, 5))
    services.conversation_set_status(
        conversation=conversation, status="snoozed", actor=actor, snoozed_until=monday(11)
    )

    clock.set(monday(11, 1))
    assert tasks.wake_snoozed.call_local() == 1
    conversation.refresh_from_db()
    assert conversation.status == "open"
