import datetime as dt

import pytest
from django.utils import timezone

from ascolto.core.errors import ValidationFailed
from ascolto.inbox import services
from ascolto.inbox.models import Conversation, ConversationEvent
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


@pytest.fixture
def conversation(workspace):
    inbox = InboxFactory(workspace=workspace)
    customer = CustomerFactory(workspace=workspace)
    return services.message_receive(inbox=inbox, customer=customer, text="help").conversation


def member(workspace, **kwargs):
    user = UserFactory(**kwargs)
    MembershipFactory(workspace=workspace, user=user)
    return user


def test_assign_then_transfer_is_counted_with_reason(workspace, conversation, actor):
    anna, bruno = member(workspace), member(workspace)

    services.conversation_assign(conversation=conversation, assignee=anna, actor=actor)
    services.conversation_assign(
        conversation=conversation, assignee=bruno, actor=actor, reason="billing expert"
    )

    conversation.refresh_from_db()
    assert conversation.assignee == bruno
    assert conversation.transfer_count == 1
    kinds = list(
        ConversationEvent.objects.filter(conversation=conversation).values_list(
            "kind", "to_value", "reason"
        )
    )
    assert kinds[-2:] == [
        ("assigned", str(anna.pk), ""),
        ("transferred", str(bruno.pk), "billing expert"),
    ]


def test_assign_refuses_outsiders_and_foreign_teams(
    workspace, other_workspace, conversation, actor
):
    with pytest.raises(ValidationFailed):
        services.conversation_assign(conversation=conversation, assignee=UserFactory(), actor=actor)
    with pytest.raises(ValidationFailed):
        services.conversation_assign(
            conversation=conversation, team=TeamFactory(workspace=other_workspace), actor=actor
        )


def test_resolve_and_reopen_by_agent(conversation, actor):
    services.conversation_set_status(conversation=conversation, status="resolved", actor=actor)
    conversation.refresh_from_db()
    assert conversation.resolved_at is not None

    services.conversation_set_status(conversation=conversation, status="open", actor=actor)
    conversation.refresh_from_db()
    assert conversation.reopen_count == 1
    assert conversation.resolved_at is None
    assert ConversationEvent.objects.filter(conversation=conversation, kind="reopened").count() == 1


def test_snooze_needs_future_and_wakes_up(conversation, actor):
    with pytest.raises(ValidationFailed):
        services.conversation_set_status(conversation=conversation, status="snoozed", actor=actor)
    until = timezone.now() + dt.timedelta(hours=1)
    services.conversation_set_status(
        conversation=conversation, status="snoozed", actor=actor, snoozed_until=until
    )

    assert services.snoozed_wake_up(now=until - dt.timedelta(minutes=1)) == 0
    assert services.snoozed_wake_up(now=until + dt.timedelta(seconds=1)) == 1
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.snoozed_until is None


def test_tags_and_priority(conversation, actor):
    services.conversation_set_tags(
        conversation=conversation, names=["Billing", "refund ", ""], actor=actor
    )
    services.conversation_set_priority(conversation=conversation, priority=3, actor=actor)
    conversation.refresh_from_db()
    assert sorted(conversation.tags.values_list("name", flat=True)) == ["billing", "refund"]
    assert conversation.priority == Conversation.Priority.URGENT
    with pytest.raises(ValidationFailed):
        services.conversation_set_priority(conversation=conversation, priority=9, actor=actor)


def test_handling_intervals_ignore_noise(conversation, agent):
    start = timezone.now()
    assert (
        services.handling_record(
            conversation=conversation,
            agent=agent,
            started_at=start,
            ended_at=start + dt.timedelta(milliseconds=200),
        )
        is None
    )
    kept = services.handling_record(
        conversation=conversation,
        agent=agent,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=3),
    )
    assert kept is not None
