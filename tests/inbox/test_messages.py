import datetime as dt

import pytest
from django.utils import timezone

from ascolto.core.errors import ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity
from ascolto.inbox import services
from ascolto.inbox.models import Attachment, Conversation, ConversationEvent, Mention, Message
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


@pytest.fixture
def inbox(workspace):
    return InboxFactory(workspace=workspace)


@pytest.fixture
def customer(workspace):
    return CustomerFactory(workspace=workspace)


def test_inbound_opens_a_conversation_and_records_the_clock(inbox, customer):
    when = timezone.now()
    result = services.message_receive(
        inbox=inbox,
        customer=customer,
        text="Dov'è il mio ordine?",
        provider_id="m-1",
        occurred_at=when,
    )

    conversation = result.conversation
    assert result.conversation_created
    assert not result.duplicate
    assert conversation.status == "open"
    assert conversation.first_customer_message_at == when
    assert conversation.waiting_since == when
    assert conversation.last_message_preview == "Dov'è il mio ordine?"
    assert Activity.objects.filter(customer=customer, kind="conversation").count() == 1
    assert OutboxEvent.objects.filter(name="inbox.message.received").count() == 1
    assert ConversationEvent.objects.filter(conversation=conversation, kind="created").exists()


def test_retried_delivery_is_stored_once(inbox, customer):
    first = services.message_receive(inbox=inbox, customer=customer, text="hi", provider_id="SM123")
    again = services.message_receive(inbox=inbox, customer=customer, text="hi", provider_id="SM123")

    assert again.duplicate
    assert again.message.pk == first.message.pk
    assert Message.objects.count() == 1
    assert Conversation.objects.get().message_count == 1


def test_same_provider_id_in_another_inbox_is_another_message(workspace, inbox, customer):
    other = InboxFactory(workspace=workspace, channel="sms")
    services.message_receive(inbox=inbox, customer=customer, text="a", provider_id="1")
    services.message_receive(inbox=other, customer=customer, text="b", provider_id="1")
    assert Message.objects.count() == 2


def test_active_conversation_continues_and_reply_stops_the_clock(inbox, customer, agent, actor):
    first = services.message_receive(inbox=inbox, customer=customer, text="one")
    second = services.message_receive(inbox=inbox, customer=customer, text="two")
    assert second.conversation.pk == first.conversation.pk

    reply = services.message_send(
        conversation=second.conversation, author=agent, actor=actor, text="Eccomi"
    )

    conversation = Conversation.objects.get()
    assert reply.delivery_status == "queued"
    assert conversation.first_response_at == reply.created_at
    assert conversation.waiting_since is None
    assert conversation.assignee == agent  # replying takes an unassigned conversation
    assert conversation.message_count == 3
    later = services.message_send(
        conversation=conversation, author=agent, actor=actor, text="Altro"
    )
    conversation.refresh_from_db()
    assert conversation.first_response_at == reply.created_at != later.created_at


def test_reply_within_window_reopens_after_it_links_a_new_conversation(inbox, customer, actor):
    first = services.message_receive(inbox=inbox, customer=customer, text="one").conversation
    services.conversation_set_status(conversation=first, status="resolved", actor=actor)

    reopened = services.message_receive(inbox=inbox, customer=customer, text="still broken")
    assert reopened.reopened
    assert reopened.conversation.pk == first.pk
    first.refresh_from_db()
    assert first.status == "open"
    assert first.reopen_count == 1
    assert first.resolved_at is None

    services.conversation_set_status(conversation=first, status="resolved", actor=actor)
    late = timezone.now() + dt.timedelta(hours=inbox.reopen_window_hours + 1)
    fresh = services.message_receive(
        inbox=inbox, customer=customer, text="new issue", occurred_at=late
    )
    assert fresh.conversation_created
    assert fresh.conversation.previous_id == first.pk


def test_pending_conversation_opens_when_the_customer_answers(inbox, customer, actor):
    conversation = services.message_receive(inbox=inbox, customer=customer, text="q").conversation
    services.conversation_set_status(conversation=conversation, status="pending", actor=actor)
    services.message_receive(inbox=inbox, customer=customer, text="here is the info")
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_hostile_html_is_inert(inbox, customer):
    result = services.message_receive(
        inbox=inbox,
        customer=customer,
        html='<p onmouseover="steal()">Ciao<script>alert(1)</script>'
        '<a href="javascript:alert(2)">x</a><img src=x onerror="alert(3)"></p>',
    )
    html = result.message.html
    for needle in ("script", "onmouseover", "onerror", "javascript:"):
        assert needle not in html
    assert result.message.text.startswith("Ciao")


def test_empty_message_is_refused_and_nothing_written(inbox, customer):
    with pytest.raises(ValidationFailed):
        services.message_receive(inbox=inbox, customer=customer, text="")
    assert Conversation.objects.count() == 0


def test_customer_of_another_workspace_is_refused(inbox, other_workspace):
    stranger = CustomerFactory(workspace=other_workspace)
    with pytest.raises(ValidationFailed):
        services.message_receive(inbox=inbox, customer=stranger, text="hi")


def test_attachments_within_limits_are_stored_others_recorded_with_reason(
    inbox, customer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.ASCOLTO_ATTACHMENT_MAX_BYTES = 10
    result = services.message_receive(
        inbox=inbox,
        customer=customer,
        text="files",
        attachments=[
            services.IncomingAttachment("ok.txt", "text/plain", b"small"),
            services.IncomingAttachment("big.pdf", "application/pdf", b"x" * 11),
            services.IncomingAttachment("run.exe", "application/x-msdownload", b"MZ"),
        ],
    )
    stored = {a.filename: a for a in Attachment.objects.all()}
    assert set(stored) == {"ok.txt", "big.pdf", "run.exe"}
    assert stored["ok.txt"].file.read() == b"small"
    assert stored["ok.txt"].refused_reason == ""
    assert "larger" in stored["big.pdf"].refused_reason
    assert not stored["big.pdf"].file
    assert stored["run.exe"].refused_reason == "file type not allowed"
    assert len(result.refused_attachments) == 2


def test_note_mentions_notify_members_only(workspace, inbox, customer, agent, actor):
    colleague = UserFactory(username="marta")
    MembershipFactory(workspace=workspace, user=colleague)
    UserFactory(username="outsider")
    conversation = services.message_receive(inbox=inbox, customer=customer, text="q").conversation

    note = services.note_add(
        conversation=conversation,
        author=agent,
        actor=actor,
        text="@marta puoi guardare? cc @outsider",
    )

    assert note.kind == "note"
    assert list(Mention.objects.values_list("user__username", flat=True)) == ["marta"]
    conversation.refresh_from_db()
    assert conversation.first_response_at is None  # a note is not a response


def test_delivery_status_only_moves_forward(inbox, customer, agent, actor):
    conversation = services.message_receive(inbox=inbox, customer=customer, text="q").conversation
    reply = services.message_send(conversation=conversation, author=agent, actor=actor, text="a")
    services.message_mark_sent(message=reply, provider_id="wamid.1")

    services.message_delivery_update(inbox=inbox, provider_id="wamid.1", status="read")
    services.message_delivery_update(inbox=inbox, provider_id="wamid.1", status="delivered")
    reply.refresh_from_db()
    assert reply.delivery_status == "read"
    assert services.message_delivery_update(inbox=inbox, provider_id="nope", status="read") is None
    services.message_delivery_update(
        inbox=inbox, provider_id="wamid.1", status="failed", error="131047"
    )
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.delivery_error) == ("failed", "131047")


def test_only_members_reply(inbox, customer):
    outsider = UserFactory()
    conversation = services.message_receive(inbox=inbox, customer=customer, text="q").conversation
    from ascolto.core.actors import Actor

    with pytest.raises(ValidationFailed):
        services.message_send(
            conversation=conversation, author=outsider, actor=Actor.for_user(outsider), text="x"
        )
