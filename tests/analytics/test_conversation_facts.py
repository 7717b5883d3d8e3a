import datetime as dt

from django.utils import timezone

from ascolto.analytics import service_metrics as m
from ascolto.analytics.selectors import conversation_facts
from ascolto.inbox import services
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


def test_facts_from_a_real_conversation(
    workspace, other_workspace, agent, actor, django_assert_max_num_queries
):
    inbox = InboxFactory(workspace=workspace)
    customer = CustomerFactory(workspace=workspace)
    start = timezone.now() - dt.timedelta(minutes=5)
    conversation = services.message_receive(
        inbox=inbox, customer=customer, text="q", occurred_at=start
    ).conversation
    services.note_add(conversation=conversation, author=agent, actor=actor, text="looking")
    services.message_send(conversation=conversation, author=agent, actor=actor, text="a")
    services.conversation_set_status(conversation=conversation, status="resolved", actor=actor)
    services.handling_record(
        conversation=conversation,
        agent=agent,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=2),
    )
    foreign_inbox = InboxFactory(workspace=other_workspace)
    services.message_receive(
        inbox=foreign_inbox, customer=CustomerFactory(workspace=other_workspace), text="x"
    )

    # conversations (with their customers coming back, FCR), what the messages tell, handling
    with django_assert_max_num_queries(3):
        facts = conversation_facts(
            workspace=workspace,
            start=start - dt.timedelta(hours=1),
            end=timezone.now() + dt.timedelta(seconds=1),
        )

    assert [f.id for f in facts] == [conversation.pk]
    fact = facts[0]
    # The messages are summarised by the database, not read: the first reply answers the first
    # wait (a first response, not a next one); the note is no reply.
    assert fact.messages == []
    assert fact.answered_waits == []
    assert m.next_response_times(fact) == []
    assert fact.bot_resolved is False
    assert m.first_response_time(fact) > 0
    assert m.resolution_time(fact) is not None
    assert m.handle_time(fact) == 120
