"""Threads, resync after a known id, replies (sanitised), notes with mentions, attachments."""

from __future__ import annotations

import base64

import pytest

from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.inbox import services
from ascolto.inbox.models import Attachment, Conversation, Mention, Message
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.api.conftest import assert_problem

# Payloads that must come out inert wherever a reply is shown.
XSS = [
    "<script>alert(1)</script>hello",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(javascript:alert(1))" onclick="steal()">styled</p>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="https://evil.example"><input name="card"></form>',
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- Thread and resync ----------------------------------------------------------------------


def test_thread_in_order_with_notes(api, conversation, customer, inbox, agent):
    actor = Actor.for_user(agent)
    services.message_send(conversation=conversation, author=agent, actor=actor, text="Checking")
    services.note_add(conversation=conversation, author=agent, text="carrier delay", actor=actor)
    services.message_receive(inbox=inbox, customer=customer, text="Thanks")

    body = api.get(f"conversations/{conversation.pk}/messages").json()
    public = api.get(f"conversations/{conversation.pk}/messages", include_notes="false").json()

    assert [(m["kind"], m["text"]) for m in body["items"]] == [
        ("inbound", "Where is my order?"),
        ("outbound", "Checking"),
        ("note", "carrier delay"),
        ("inbound", "Thanks"),
    ]
    assert body["last_id"] == max(m["id"] for m in body["items"])
    assert body["has_more"] is False
    assert [m["kind"] for m in public["items"]] == ["inbound", "outbound", "inbound"]
    assert body["items"][1]["author_user"]["id"] == agent.pk
    assert body["items"][0]["author_customer_id"] == customer.pk


def test_resync_returns_what_came_after_a_known_id(api, conversation, customer, inbox):
    known = api.get(f"conversations/{conversation.pk}/messages").json()["last_id"]
    new = [
        services.message_receive(inbox=inbox, customer=customer, text=f"more {i}").message.pk
        for i in range(3)
    ]

    first = api.get(f"conversations/{conversation.pk}/messages", after=known, limit=2).json()
    rest = api.get(
        f"conversations/{conversation.pk}/messages", after=first["last_id"], limit=2
    ).json()
    nothing = api.get(f"conversations/{conversation.pk}/messages", after=rest["last_id"]).json()

    assert [m["id"] for m in first["items"]] == new[:2]
    assert first["has_more"] is True
    assert [m["id"] for m in rest["items"]] == new[2:]
    assert rest["has_more"] is False
    assert nothing == {"items": [], "last_id": rest["last_id"], "has_more": False}


def test_get_one_message(api, conversation):
    message = Message.objects.get(conversation=conversation)

    body = api.get(f"messages/{message.pk}").json()

    assert body["id"] == message.pk
    assert body["provider_id"] == "m-1"
    assert body["delivery_status"] == "received"


# --- Replies --------------------------------------------------------------------------------


def test_reply_is_queued_for_the_channel_and_stops_the_clock(api, conversation, agent):
    response = api.post(f"conversations/{conversation.pk}/messages", {"text": "On its way!"})

    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "outbound"
    assert body["delivery_status"] == "queued"
    assert body["author_user"]["id"] == agent.pk
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None
    assert conversation.waiting_since is None
    assert conversation.assignee_id == agent.pk  # replying takes an unassigned conversation
    event = OutboxEvent.objects.get(name="inbox.message.sent")
    assert event.payload["message_id"] == body["id"]


@pytest.mark.parametrize("payload", XSS)
def test_hostile_html_in_a_reply_is_stored_and_returned_inert(api, conversation, payload):
    response = api.post(f"conversations/{conversation.pk}/messages", {"html": "Hi " + payload})
    assert response.status_code == 201, response.content
    body = response.json()
    again = api.get(f"messages/{body['id']}").json()

    for html in (body["html"], again["html"], Message.objects.get(pk=body["id"]).html):
        lowered = html.lower()
        assert "<script" not in lowered
        assert "javascript:" not in lowered
        assert "onerror" not in lowered
        assert "onclick" not in lowered
        assert "<iframe" not in lowered
        assert "<form" not in lowered
        assert "data:text/html" not in lowered
        assert "style=" not in lowered


def test_an_empty_reply_is_422_and_writes_nothing(api, conversation):
    problem = assert_problem(
        api.post(f"conversations/{conversation.pk}/messages", {"text": "", "html": ""}), 422
    )

    assert "text" in problem["errors"]
    assert Message.objects.count() == 1


def test_reply_with_a_file(api, conversation):
    response = api.post(
        f"conversations/{conversation.pk}/messages",
        {
            "text": "Your invoice",
            "attachments": [
                {
                    "filename": "invoice.pdf",
                    "content_type": "application/pdf",
                    "content_base64": b64(b"%PDF-1.4 invoice"),
                }
            ],
        },
    )

    assert response.status_code == 201
    files = response.json()["attachments"]
    assert [(f["filename"], f["size"], f["refused_reason"]) for f in files] == [
        ("invoice.pdf", 16, "")
    ]
    stored = Attachment.objects.get()
    assert stored.file.read() == b"%PDF-1.4 invoice"


def test_a_refused_file_fails_the_whole_reply(api, conversation):
    response = api.post(
        f"conversations/{conversation.pk}/messages",
        {
            "text": "Run this",
            "attachments": [
                {
                    "filename": "setup.exe",
                    "content_type": "application/x-msdownload",
                    "content_base64": b64(b"MZ"),
                }
            ],
        },
    )

    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"]["attachments"] == ["setup.exe: file type not allowed"]
    assert Message.objects.count() == 1
    assert Attachment.objects.count() == 0
    assert Conversation.objects.get().message_count == 1


def test_invalid_base64_names_the_field(api, conversation):
    response = api.post(
        f"conversations/{conversation.pk}/messages",
        {"text": "x", "attachments": [{"filename": "a.txt", "content_base64": "not base64!"}]},
    )

    problem = assert_problem(response, 422, "validation_failed")
    assert list(problem["errors"]) == ["attachments.0.content_base64"]
    assert Message.objects.count() == 1


# --- Notes ----------------------------------------------------------------------------------


def test_note_mentions_members_only(api, workspace, conversation):
    sara = UserFactory(username="sara")
    MembershipFactory(workspace=workspace, user=sara)
    UserFactory(username="stranger")  # exists, but not in this workspace

    response = api.post(
        f"conversations/{conversation.pk}/notes",
        {"text": "@sara can you check? cc @stranger <script>x</script>"},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "note"
    assert [m["username"] for m in body["mentions"]] == ["sara"]
    assert Mention.objects.get().user == sara
    assert body["html"] == ""
    assert body["delivery_status"] == "sent"
    assert not OutboxEvent.objects.filter(name="inbox.message.sent").exists()


def test_an_empty_note_is_422(api, conversation):
    assert_problem(api.post(f"conversations/{conversation.pk}/notes", {"text": ""}), 422)
    assert_problem(api.post(f"conversations/{conversation.pk}/notes", {"text": "   "}), 422)
    assert Message.objects.count() == 1
