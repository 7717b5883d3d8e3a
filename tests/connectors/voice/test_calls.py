"""Call records: created through POST /calls, read with GET /calls/{id}; shown in the
conversation thread and on the customer's timeline; an answered call's duration counts in its
agent's handling time; bad input is refused naming the field; workspaces are apart."""

from __future__ import annotations

import datetime as dt

import pytest

from ascolto.connectors.voice.models import CallRecord
from ascolto.customers.models import Activity
from ascolto.inbox.models import HandlingInterval, Message
from tests.api.conftest import assert_problem
from tests.connectors.voice.conftest import call_body

pytestmark = pytest.mark.django_db


def test_a_call_is_recorded_and_read_back(api, conversation, agent):
    response = api.post("calls", call_body(conversation, agent_id=agent.pk))

    assert response.status_code == 201, response.content
    call = response.json()
    assert call["from_number"] == "+390212345678"
    assert call["to_number"] == "+393331234567"
    assert call["duration_seconds"] == 192
    assert call["outcome"] == "answered"
    assert call["agent_id"] == agent.pk
    assert call["customer_id"] == conversation.customer_id
    assert call["created"] is True
    again = api.get(f"calls/{call['id']}")
    assert again.status_code == 200
    assert again.json()["started_at"].startswith("2026-11-20T09:15:00")
    assert again.json()["notes"] == "Refund agreed"


def test_the_call_is_an_item_of_the_thread(api, conversation, agent, client):
    call = api.post("calls", call_body(conversation, agent_id=agent.pk)).json()

    message = Message.objects.get(pk=call["message_id"])
    assert message.conversation_id == conversation.pk
    assert message.kind == "system"
    assert message.metadata["call_id"] == call["id"]
    assert message.text.startswith("Outbound call · Answered · 3:12")
    assert "https://recordings.example.com/call-1.mp3" in message.text
    thread = api.get(f"conversations/{conversation.pk}/messages").json()
    assert [m["id"] for m in thread["items"]][-2:][0] <= call["message_id"]
    assert call["message_id"] in [m["id"] for m in thread["items"]]

    client.force_login(agent)
    page = client.get(f"/inbox/c/{conversation.pk}/")
    assert page.status_code == 200
    assert "Outbound call · Answered · 3:12" in page.content.decode()


def test_the_call_is_on_the_customer_timeline(api, conversation):
    call = api.post("calls", call_body(conversation, outcome="missed", duration_seconds=0)).json()

    entry = Activity.objects.get(source_type="call", source_id=str(call["id"]))
    assert entry.customer_id == conversation.customer_id
    assert entry.title == "Outbound call · Missed"
    assert entry.occurred_at == dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.UTC)
    timeline = api.get(f"customers/{conversation.customer_id}/timeline").json()
    assert any(item["title"] == "Outbound call · Missed" for item in timeline["items"])


def test_the_title_is_in_the_workspace_language(api, conversation, workspace):
    workspace.default_locale = "it"
    workspace.save()
    call = api.post("calls", call_body(conversation, direction="inbound")).json()
    message = Message.objects.get(pk=call["message_id"])
    assert message.text.startswith("Chiamata in arrivo · Risposta · 3:12")


def test_an_answered_call_counts_in_the_agents_handling_time(api, conversation, agent):
    api.post("calls", call_body(conversation, agent_id=agent.pk))
    api.post(
        "calls",
        call_body(
            conversation,
            agent_id=agent.pk,
            outcome="voicemail",
            duration_seconds=30,
            started_at="2026-11-20T11:00:00+00:00",
        ),
    )

    spans = HandlingInterval.objects.filter(conversation=conversation, agent=agent)
    assert [(s.ended_at - s.started_at).total_seconds() for s in spans] == [192.0]
    assert spans[0].started_at == dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.UTC)


def test_a_call_without_agent_records_no_handling_time(api, conversation):
    api.post("calls", call_body(conversation))
    assert not HandlingInterval.objects.exists()


def test_a_repeated_external_id_is_stored_once(api, conversation):
    first = api.post("calls", call_body(conversation, external_id="CA123"))
    second = api.post("calls", call_body(conversation, external_id="CA123"))

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["created"] is False
    assert CallRecord.objects.count() == 1
    assert Message.objects.filter(kind="system").count() == 1


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"outcome": "hung"}, "outcome"),
        ({"from_number": "12"}, "from_number"),
        ({"to_number": "call me"}, "to_number"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"outcome": "missed", "duration_seconds": 40}, "duration_seconds"),
        ({"started_at": "2026-11-20T10:15:00"}, "started_at"),
        ({"started_at": "2999-01-01T00:00:00+00:00"}, "started_at"),
        ({"recording_url": "ftp://example.com/x.mp3"}, "recording_url"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_refused_naming_the_field(api, conversation, extra, field):
    response = api.post("calls", call_body(conversation, **extra))
    problem = assert_problem(response, 422)
    assert any(key.endswith(field) for key in problem["errors"]), problem
    assert not CallRecord.objects.exists()


def test_readers_cannot_record_calls(member, conversation):
    response = member("viewer").post("calls", call_body(conversation))
    assert_problem(response, 403)


def test_other_workspaces_see_nothing(api, other_api, conversation, other_workspace):
    from tests.accounts.factories import MembershipFactory, UserFactory

    call = api.post("calls", call_body(conversation)).json()
    assert_problem(other_api.get(f"calls/{call['id']}"), 404)
    # Their call cannot be filed in our conversation, nor name our agent.
    assert_problem(other_api.post("calls", call_body(conversation)), 404)
    outsider = UserFactory()
    MembershipFactory(workspace=other_workspace, user=outsider, role="agent")
    response = api.post("calls", call_body(conversation, agent_id=outsider.pk))
    assert "agent_id" in assert_problem(response, 422)["errors"]


def by_number(inbox_id: int, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "inbox_id": inbox_id,
        "direction": "inbound",
        "from_number": "+39 333 765 4321",
        "to_number": "+39 02 1234 5678",
        "started_at": "2026-11-20T10:15:00+01:00",
        "duration_seconds": 65,
        "outcome": "answered",
    }
    body.update(extra)
    return body


def test_a_call_by_number_finds_the_customer_and_their_active_conversation(
    api, conversation, workspace
):
    from ascolto.customers.models import Identity

    Identity.objects.create(
        workspace=workspace, customer=conversation.customer, kind="phone", value="+393337654321"
    )
    response = api.post("calls", by_number(conversation.inbox_id))

    assert response.status_code == 201, response.content
    assert response.json()["conversation_id"] == conversation.pk
    assert response.json()["customer_id"] == conversation.customer_id


def test_a_call_from_an_unknown_number_opens_a_conversation_for_a_new_customer(api, conversation):
    from ascolto.customers.models import Identity
    from ascolto.inbox.models import Conversation

    response = api.post("calls", by_number(conversation.inbox_id, from_number="+972 54 123 4567"))

    assert response.status_code == 201, response.content
    call = response.json()
    assert call["conversation_id"] != conversation.pk
    caller = Identity.objects.get(kind="phone", value="+972541234567").customer
    assert call["customer_id"] == caller.pk
    opened = Conversation.objects.get(pk=call["conversation_id"])
    assert (opened.inbox_id, opened.customer_id, opened.subject) == (
        conversation.inbox_id,
        caller.pk,
        "Phone call",
    )
    assert caller.activities.filter(source_type="call").count() == 1
    # An outbound call to the same number joins that conversation.
    again = api.post(
        "calls",
        by_number(
            conversation.inbox_id,
            direction="outbound",
            from_number="+39 02 1234 5678",
            to_number="+972541234567",
        ),
    )
    assert again.json()["conversation_id"] == call["conversation_id"]


def test_a_call_needs_exactly_one_of_conversation_and_inbox(api, conversation):
    both = call_body(conversation, inbox_id=conversation.inbox_id)
    assert "conversation_id" in assert_problem(api.post("calls", both), 422)["errors"]
    neither = call_body(conversation)
    del neither["conversation_id"]
    assert "conversation_id" in assert_problem(api.post("calls", neither), 422)["errors"]


def test_a_call_by_number_needs_a_phone_inbox_of_the_workspace(
    api, other_api, conversation, workspace
):
    from tests.inbox.factories import InboxFactory

    chat = InboxFactory(workspace=workspace, channel="webchat")
    assert "inbox_id" in assert_problem(api.post("calls", by_number(chat.pk)), 422)["errors"]
    assert_problem(other_api.post("calls", by_number(conversation.inbox_id)), 404)
    bad = by_number(conversation.inbox_id, from_number="call me")
    assert "from_number" in assert_problem(api.post("calls", bad), 422)["errors"]
    assert not CallRecord.objects.exists()
