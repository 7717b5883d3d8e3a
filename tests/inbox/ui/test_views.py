"""The agent console's pages and actions: access, scoping, filters, each action through its
service with the updated fragments, clear 400s, and pinned query counts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ascolto.core.actors import Actor
from ascolto.inbox import selectors, services
from ascolto.inbox.models import (
    AgentProfile,
    Attachment,
    Conversation,
    ConversationEvent,
    HandlingInterval,
    Mention,
    Message,
)
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.inbox.factories import InboxFactory
from tests.inbox.ui.conftest import start

pytestmark = pytest.mark.django_db

CONSOLE = reverse("inbox:console")
LIST = reverse("inbox:list")


def url(name: str, conversation: Any, *extra: Any) -> str:
    return reverse(f"inbox:{name}", args=[conversation.pk, *extra])


def rows(html: str) -> list[str]:
    """The customer names of the list rows, in order."""
    return re.findall(r'<span class="conv-name" dir="auto">([^<]*)</span>', html)


def thread_ids(conversation: Conversation) -> dict[str, str]:
    """The client's view of the thread: everything up to now is already on screen."""
    last_message = Message.objects.filter(conversation=conversation).order_by("-pk").first()
    last_event = ConversationEvent.objects.filter(conversation=conversation).order_by("-pk").first()
    return {
        "after": str(last_message.pk if last_message else 0),
        "after_event": str(last_event.pk if last_event else 0),
    }


# --- Access and scoping -------------------------------------------------------------------------


def test_the_console_needs_a_signed_in_user(client: Client, conversation: Conversation) -> None:
    for target in (CONSOLE, url("conversation", conversation)):
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    response = client.post(url("reply", conversation), {"text": "hi"})
    assert response.status_code == 302
    assert not Message.objects.filter(kind="outbound").exists()


def test_a_user_of_no_workspace_is_refused(client_of: Any, conversation: Conversation) -> None:
    stranger = client_of(UserFactory())

    assert stranger.get(CONSOLE).status_code == 403
    assert stranger.post(url("reply", conversation), {"text": "hi"}).status_code == 403


def test_the_list_shows_only_the_workspace_conversations(
    agent_client: Client, inbox: Any, customer: Any, other_workspace: Any
) -> None:
    start(inbox, customer)
    foreign = CustomerFactory(workspace=other_workspace, name="Other Shop Customer")
    start(InboxFactory(workspace=other_workspace), foreign)

    html = agent_client.get(CONSOLE, {"view": "all"}).content.decode()

    assert rows(html) == ["Dana Levi"]


CONVERSATION_URLS = [
    ("get", "conversation", {}),
    ("get", "head", {}),
    ("get", "tail", {}),
    ("post", "reply", {"text": "hello"}),
    ("post", "status", {"status": "resolved"}),
    ("post", "assign", {"assignee": "me"}),
    ("post", "priority", {"priority": "3"}),
    ("post", "tags", {"tags": "vip"}),
    (
        "post",
        "handling",
        {"started_at": "2026-01-01T10:00:00+00:00", "ended_at": "2026-01-01T10:01:00+00:00"},
    ),
]


@pytest.mark.parametrize(("method", "name", "data"), CONVERSATION_URLS)
def test_every_conversation_url_of_another_workspace_is_404(  # type: ignore[no-untyped-def]
    agent_client: Client, htmx, other_workspace, method: str, name: str, data: dict[str, str]
) -> None:
    foreign = start(
        InboxFactory(workspace=other_workspace), CustomerFactory(workspace=other_workspace)
    )
    before = foreign.updated_at

    response = getattr(agent_client, method)(url(name, foreign), data, **htmx)

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.updated_at == before
    assert foreign.messages.count() == 1
    assert not HandlingInterval.objects.exists()


def test_macro_preview_and_files_of_another_workspace_are_404(  # type: ignore[no-untyped-def]
    agent_client: Client, conversation, other_workspace, htmx
) -> None:
    foreign = start(
        InboxFactory(workspace=other_workspace), CustomerFactory(workspace=other_workspace)
    )
    message = foreign.messages.get()
    attachment = Attachment(
        workspace=other_workspace,
        message=message,
        filename="x.txt",
        content_type="text/plain",
        size=1,
    )
    attachment.file.save("x.txt", ContentFile(b"x"), save=True)

    assert agent_client.get(url("macro_preview", foreign, 1), **htmx).status_code == 404
    assert agent_client.get(reverse("inbox:attachment", args=[attachment.pk])).status_code == 404


def test_an_analyst_reads_but_cannot_change(
    client_of: Any, workspace: Any, conversation: Any, htmx: Any
) -> None:
    analyst = UserFactory()
    MembershipFactory(workspace=workspace, user=analyst, role="analyst")
    client = client_of(analyst)

    page = client.get(url("conversation", conversation))
    refused = client.post(url("status", conversation), {"status": "resolved"}, **htmx)

    assert page.status_code == 200
    assert 'id="composer"' not in page.content.decode()
    assert refused.status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == "open"


# --- The list -----------------------------------------------------------------------------------


def test_views_filter_the_list_and_show_counts(  # type: ignore[no-untyped-def]
    agent_client: Client, agent, workspace, inbox, htmx
) -> None:
    mine = start(inbox, CustomerFactory(workspace=workspace, name="Mine Customer"))
    services.conversation_assign(conversation=mine, actor=Actor.for_user(agent), assignee=agent)
    start(inbox, CustomerFactory(workspace=workspace, name="Queue Customer"))

    page = agent_client.get(CONSOLE).content.decode()
    unassigned = agent_client.get(LIST, {"view": "unassigned"}, **htmx).content.decode()
    counts = agent_client.get(
        reverse("inbox:counts"), {"view": "unassigned"}, **htmx
    ).content.decode()

    assert rows(page) == ["Mine Customer"]  # "mine" is the default view
    assert rows(unassigned) == ["Queue Customer"]
    assert "<html" not in unassigned
    assert re.search(r'data-view="mine".*?open: </span>1<', counts, re.S)
    assert re.search(r'data-view="all".*?open: </span>2<', counts, re.S)
    assert re.search(r'data-view="unassigned"[^>]*\s+aria-current="page"', counts)


def test_counts_past_the_cap_say_so(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, inbox, htmx, monkeypatch
) -> None:
    for name in ("One", "Two", "Three"):
        start(inbox, CustomerFactory(workspace=workspace, name=name))
    monkeypatch.setattr(selectors, "VIEW_COUNT_CAP", 2)

    counts = agent_client.get(reverse("inbox:counts"), **htmx).content.decode()

    assert re.search(r'data-view="all" .*?open: </span>2\+<', counts, re.S)
    mine = next(item for item in counts.split("<li>") if 'data-view="mine"' in item)
    assert "open: </span>0<" in mine
    assert "data-nonzero" not in mine


def test_search_finds_words_in_messages(agent_client: Client, workspace, inbox, htmx) -> None:  # type: ignore[no-untyped-def]
    start(
        inbox,
        CustomerFactory(workspace=workspace, name="Noa"),
        text="The espresso cup arrived broken",
    )
    start(inbox, CustomerFactory(workspace=workspace, name="Luca"), text="Change my address please")

    response = agent_client.get(LIST, {"view": "all", "q": "broken"}, **htmx)
    nothing = agent_client.get(LIST, {"view": "all", "q": "zebra"}, **htmx)

    assert rows(response.content.decode()) == ["Noa"]
    assert "No conversation matches this search." in nothing.content.decode()


def test_load_more_appends_the_next_page(agent_client: Client, workspace, inbox, htmx) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        start(inbox, CustomerFactory(workspace=workspace, name=f"Person {n}"))

    first = agent_client.get(LIST, {"view": "all", "limit": 3}, **htmx).content.decode()
    cursor = re.search(r"cursor=([^\"&]+)", first)
    assert cursor is not None
    more = agent_client.get(
        LIST, {"view": "all", "limit": 3, "cursor": cursor.group(1).replace("%3D", "=")}, **htmx
    ).content.decode()

    assert rows(first) == ["Person 4", "Person 3", "Person 2"]
    assert rows(more) == ["Person 1", "Person 0"]
    assert 'id="conversation-list"' not in more  # rows only, appended in place


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"view": "everything"}, "Unknown view."),
        ({"status": "sleeping"}, "Unknown status filter."),
        ({"channel": "pigeon"}, "Unknown channel."),
        ({"limit": "0"}, "Ask for 1 to 100 rows."),
        ({"q": "x" * 201}, "Search for at most 200 characters."),
        ({"cursor": "not-a-cursor"}, "no longer valid"),
    ],
)
def test_bad_list_parameters_are_a_clear_400(  # type: ignore[no-untyped-def]
    agent_client: Client, conversation, htmx, params, message
) -> None:
    response = agent_client.get(LIST, params, **htmx)

    assert response.status_code == 400
    assert message in response.content.decode()


# --- The conversation ---------------------------------------------------------------------------


def test_the_conversation_shows_thread_kinds_safely(  # type: ignore[no-untyped-def]
    agent_client: Client, agent, workspace, inbox, customer, htmx
) -> None:
    actor = Actor.for_user(agent)
    conversation = start(inbox, customer, text='<script>alert("x")</script> hi')
    services.message_receive(
        inbox=inbox,
        customer=customer,
        html='<p>Photo <img src=x onerror="alert(1)"> <a href="javascript:alert(2)">here</a></p>',
        attachments=[services.IncomingAttachment("virus.exe", "application/x-msdownload", b"MZ")],
    )
    services.note_add(
        conversation=conversation, author=agent, text="Check the courier", actor=actor
    )
    services.message_send(conversation=conversation, author=agent, actor=actor, text="On its way")

    html = agent_client.get(url("conversation", conversation), **htmx).content.decode()

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; hi" in html
    assert "<script>alert" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
    assert 'class="msg msg-note"' in html
    assert "Internal note" in html
    assert "virus.exe</span> — refused: file type not allowed" in html
    assert 'class="delivery delivery-queued"' in html
    assert "Assigned to" in html  # the reply assigned the conversation: a system line
    assert 'id="customer-panel" class="pane pane-customer" hx-swap-oob="true"' in html


def test_the_customer_panel_shows_the_customer_360(  # type: ignore[no-untyped-def]
    agent_client: Client, inbox, customer, htmx
) -> None:
    earlier = start(inbox, customer, text="Old question")
    services.conversation_set_status(
        conversation=earlier, status="resolved", actor=Actor.system("test")
    )
    current = start(inbox, customer, text="New question", new_thread=True)

    html = agent_client.get(url("conversation", current), **htmx).content.decode()
    panel = html[html.index('id="customer-panel"') :]

    assert "Dana Levi" in panel
    assert "Gold" in panel
    assert "dana@example.com" in panel
    assert "W-1042" in panel
    assert "Shipped" in panel
    assert "Old question" in panel  # past conversations, not the open one
    assert "New question" not in panel
    assert "Not analysed yet." in panel


def test_the_tail_returns_only_what_the_client_lacks(  # type: ignore[no-untyped-def]
    agent_client: Client, inbox, customer, conversation, htmx
) -> None:
    seen = thread_ids(conversation)
    services.message_receive(inbox=inbox, customer=customer, text="Any news?")

    response = agent_client.get(url("tail", conversation), seen, **htmx)
    bad = agent_client.get(url("tail", conversation), {"after": "-1"}, **htmx)

    html = response.content.decode()
    assert "Any news?" in html
    assert "Where is my order?" not in html
    assert bad.status_code == 400


# --- Actions ------------------------------------------------------------------------------------


def test_a_reply_is_sent_and_answered_with_the_new_items(  # type: ignore[no-untyped-def]
    agent_client: Client, agent, conversation, htmx
) -> None:
    response = agent_client.post(
        url("reply", conversation), {"text": "It ships <today>", **thread_ids(conversation)}, **htmx
    )

    html = response.content.decode()
    reply = Message.objects.get(kind="outbound")
    assert response.status_code == 200
    assert reply.text == "It ships <today>"
    assert reply.author_user == agent
    assert f'data-message-id="{reply.pk}"' in html
    assert "It ships &lt;today&gt;" in html
    inbound = conversation.messages.get(kind="inbound")
    assert f'data-message-id="{inbound.pk}"' not in html  # only what is new
    assert '<header id="conversation-head" class="conv-head" hx-swap-oob="true"' in html
    assert response["HX-Trigger"] == "inbox-changed"


def test_a_note_mentions_a_colleague(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, conversation, htmx
) -> None:
    colleague = UserFactory(username="marco")
    MembershipFactory(workspace=workspace, user=colleague)

    response = agent_client.post(
        url("reply", conversation),
        {"kind": "note", "text": "@marco can you check?", **thread_ids(conversation)},
        **htmx,
    )

    note = Message.objects.get(kind="note")
    assert response.status_code == 200
    assert Mention.objects.filter(message=note, user=colleague).exists()
    assert 'class="msg msg-note"' in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "   "}, "Write something first."),
        ({"kind": "shout", "text": "hi"}, "Choose a reply or an internal note."),
        ({"kind": "note", "text": "hi", "macro": "1"}, "Macros go with replies, not notes."),
        ({"text": "hi", "after": "x"}, "The thread position is not valid"),
    ],
)
def test_bad_replies_are_a_400_and_store_nothing(  # type: ignore[no-untyped-def]
    agent_client: Client, conversation, htmx, data, message
) -> None:
    response = agent_client.post(url("reply", conversation), data, **htmx)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert conversation.messages.count() == 1


def test_resolve_and_reopen(agent_client: Client, conversation, htmx) -> None:  # type: ignore[no-untyped-def]
    resolved = agent_client.post(
        url("status", conversation), {"status": "resolved", **thread_ids(conversation)}, **htmx
    )
    conversation.refresh_from_db()
    html = resolved.content.decode()

    assert conversation.status == "resolved"
    assert html.startswith("<header") or 'id="conversation-head"' in html.split("<ol")[0]
    assert 'data-action="reopen"' in html
    assert '<ol hx-swap-oob="beforeend:#thread-items">' in html
    assert "Status changed from Open to Resolved" in html

    agent_client.post(url("status", conversation), {"status": "open"}, **htmx)
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.reopen_count == 1


def test_snooze_with_a_preset_or_a_local_time(agent_client: Client, conversation, htmx) -> None:  # type: ignore[no-untyped-def]
    agent_client.post(url("status", conversation), {"status": "snoozed", "snooze": "1h"}, **htmx)
    conversation.refresh_from_db()
    assert conversation.status == "snoozed"
    assert abs(
        (conversation.snoozed_until - timezone.now()) - dt.timedelta(hours=1)
    ) < dt.timedelta(minutes=1)

    # A local date and time reads in the workspace's zone (Europe/Rome in the fixtures).
    agent_client.post(
        url("status", conversation), {"status": "snoozed", "until": "2099-07-01T09:30"}, **htmx
    )
    conversation.refresh_from_db()
    assert conversation.snoozed_until == dt.datetime(2099, 7, 1, 7, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "asleep"}, "Choose a status."),
        ({"status": "snoozed"}, "Choose when the conversation should come back."),
        (
            {"status": "snoozed", "until": "yesterday"},
            "Choose when the conversation should come back.",
        ),
        ({"status": "snoozed", "until": "2001-01-01T10:00"}, "Choose a time in the future"),
    ],
)
def test_bad_status_changes_are_a_400(
    agent_client: Client, conversation, htmx, data, message
) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(url("status", conversation), data, **htmx)

    assert response.status_code == 400
    assert message in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_assign_to_me_then_transfer_with_a_reason(  # type: ignore[no-untyped-def]
    agent_client: Client, agent, workspace, conversation, htmx
) -> None:
    colleague = UserFactory(first_name="Marco", last_name="Conti")
    MembershipFactory(workspace=workspace, user=colleague)
    team = TeamFactory(workspace=workspace, name="Billing")

    agent_client.post(url("assign", conversation), {"assignee": "me"}, **htmx)
    conversation.refresh_from_db()
    assert conversation.assignee == agent

    response = agent_client.post(
        url("assign", conversation),
        {
            "assignee": str(colleague.pk),
            "team": str(team.pk),
            "reason": "needs a refund",
            **thread_ids(conversation),
        },
        **htmx,
    )
    conversation.refresh_from_db()
    html = response.content.decode()
    assert conversation.assignee == colleague
    assert conversation.team == team
    assert conversation.transfer_count == 1
    assert conversation.events.filter(kind="transferred", reason="needs a refund").exists()
    # Names are isolated (FSI…PDI) so that they keep their order in right-to-left sentences.
    assert "Transferred from \u2068" in html
    assert "to \u2068Marco Conti\u2069" in html
    assert "needs a refund" in html
    assert "Assigned to Marco Conti" in html  # the header


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"assignee": "abc"}, "Choose a member of this workspace."),
        ({"assignee": "999999"}, "Choose a member of this workspace."),
        ({"assignee": "me", "team": "x"}, "Choose a team of this workspace."),
        ({"assignee": "me", "team": "999999"}, "Choose a team of this workspace."),
    ],
)
def test_bad_assignments_are_a_400(agent_client: Client, conversation, htmx, data, message) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(url("assign", conversation), data, **htmx)

    assert response.status_code == 400
    assert message in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_a_member_of_another_workspace_cannot_be_assigned(  # type: ignore[no-untyped-def]
    agent_client: Client, conversation, other_workspace, htmx
) -> None:
    outsider = UserFactory()
    MembershipFactory(workspace=other_workspace, user=outsider)

    response = agent_client.post(
        url("assign", conversation), {"assignee": str(outsider.pk)}, **htmx
    )

    assert response.status_code == 400
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_priority_and_tags(agent_client: Client, conversation, htmx) -> None:  # type: ignore[no-untyped-def]
    agent_client.post(url("priority", conversation), {"priority": "3"}, **htmx)
    response = agent_client.post(url("tags", conversation), {"tags": "Refund, vip ,refund"}, **htmx)
    bad = agent_client.post(url("priority", conversation), {"priority": "9"}, **htmx)

    conversation.refresh_from_db()
    assert conversation.priority == 3
    assert sorted(conversation.tags.values_list("name", flat=True)) == ["refund", "vip"]
    assert '<span class="tag">refund</span>' in response.content.decode()
    assert bad.status_code == 400


def test_handling_time_is_recorded_and_bad_spans_refused(  # type: ignore[no-untyped-def]
    agent_client: Client, agent, conversation
) -> None:
    end = timezone.now()
    ok = agent_client.post(
        url("handling", conversation),
        {"started_at": (end - dt.timedelta(seconds=90)).isoformat(), "ended_at": end.isoformat()},
    )
    backwards = agent_client.post(
        url("handling", conversation),
        {"started_at": end.isoformat(), "ended_at": (end - dt.timedelta(seconds=5)).isoformat()},
    )
    future = agent_client.post(
        url("handling", conversation),
        {"started_at": end.isoformat(), "ended_at": (end + dt.timedelta(hours=1)).isoformat()},
    )
    garbage = agent_client.post(url("handling", conversation), {"started_at": "soon"})

    span = HandlingInterval.objects.get()
    assert ok.status_code == 204
    assert span.agent == agent
    assert span.conversation == conversation
    assert round((span.ended_at - span.started_at).total_seconds()) == 90
    assert [backwards.status_code, future.status_code, garbage.status_code] == [400, 400, 400]


def test_availability_goes_through_routing(agent_client: Client, agent, workspace, htmx) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(reverse("inbox:availability"), {"availability": "online"}, **htmx)
    bad = agent_client.post(reverse("inbox:availability"), {"availability": "asleep"}, **htmx)

    profile = AgentProfile.objects.get(workspace=workspace, user=agent)
    assert profile.availability == "online"
    assert re.search(r'value="online"[^>]*aria-pressed="true"', response.content.decode())
    assert bad.status_code == 400


def test_without_htmx_actions_redirect_back(agent_client: Client, conversation) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(url("status", conversation), {"status": "resolved"})

    assert response.status_code == 302
    assert response["Location"] == url("conversation", conversation)


def test_changes_since_a_time_lists_the_changed_conversations(  # type: ignore[no-untyped-def]
    agent_client: Client, inbox, customer
) -> None:
    before = timezone.now() - dt.timedelta(seconds=1)
    conversation = start(inbox, customer)

    data = agent_client.get(reverse("inbox:changes"), {"since": before.isoformat()}).json()
    naive = agent_client.get(reverse("inbox:changes"), {"since": "2026-01-01T10:00:00"})
    bad = agent_client.get(reverse("inbox:changes"), {"since": "yesterday"})

    assert data["conversation_ids"] == [conversation.pk]
    assert data["more"] is False
    assert dt.datetime.fromisoformat(data["now"]) > before
    assert naive.status_code == 400
    assert bad.status_code == 400


def test_an_attachment_is_served_to_members(agent_client: Client, inbox, customer) -> None:  # type: ignore[no-untyped-def]
    result = services.message_receive(
        inbox=inbox,
        customer=customer,
        text="receipt",
        attachments=[services.IncomingAttachment("r.txt", "text/plain", b"paid")],
    )
    attachment = result.message.attachments.get()

    response = agent_client.get(reverse("inbox:attachment", args=[attachment.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"paid"  # type: ignore[attr-defined]
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


# --- Query counts -------------------------------------------------------------------------------


def _busy_workspace(workspace: Any, agent: Any, inbox: Any, n: int) -> Conversation:
    actor = Actor.for_user(agent)
    colleague = UserFactory()
    MembershipFactory(workspace=workspace, user=colleague)
    conversation = None
    for i in range(n):
        customer = CustomerFactory(workspace=workspace, value_tier="gold")
        OrderFactory(customer=customer)
        conversation = start(inbox, customer, text=f"Question {i}")
        services.conversation_assign(conversation=conversation, actor=actor, assignee=agent)
        services.conversation_set_tags(conversation=conversation, names=["a", "b"], actor=actor)
        services.note_add(conversation=conversation, author=agent, text="note", actor=actor)
        services.message_send(conversation=conversation, author=agent, actor=actor, text="reply")
        services.conversation_assign(
            conversation=conversation, actor=actor, assignee=colleague, reason="expert"
        )
    assert conversation is not None
    return conversation


# Session, user and workspace cost 3 queries; the rest is the page's own budget.
LIST_QUERIES = 5  # + conversations (customer, assignee, inbox, team joined) + tags
# + conversation, messages, attachments, events, people, teams, tags, macros, membership
# (may write), orders, order lines, past conversations, identities, spend, survey answers
CONVERSATION_QUERIES = 18
# + the sidebar (7 view counts, inboxes, availability), the list (2) and the conversation
CONSOLE_QUERIES = 30


@pytest.mark.parametrize("n", [2, 8])
def test_query_counts_do_not_grow_with_the_data(  # type: ignore[no-untyped-def]
    agent_client: Client, agent, workspace, inbox, htmx, django_assert_num_queries, n
) -> None:
    conversation = _busy_workspace(workspace, agent, inbox, n)

    with django_assert_num_queries(LIST_QUERIES):
        agent_client.get(LIST, {"view": "all", "status": "any"}, **htmx)
    with django_assert_num_queries(CONVERSATION_QUERIES):
        agent_client.get(url("conversation", conversation), **htmx)
    with django_assert_num_queries(CONSOLE_QUERIES):
        agent_client.get(url("conversation", conversation), {"view": "all"})
