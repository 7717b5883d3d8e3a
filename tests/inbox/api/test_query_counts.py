"""Query counts of the inbox API's reads are pinned and do not grow with the page (no N+1).

Each request pays for the token lookup and the permission check (2 queries); the figures below
are the whole budget. Raise one only with a reason.
"""

from __future__ import annotations

import pytest

from ascolto.core.actors import Actor
from ascolto.inbox import services
from ascolto.inbox.models import Conversation
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.factories import InboxFactory

# path template -> queries allowed (auth 2 + the reads)
BUDGET = {
    "inboxes": 3,
    "conversations": 4,  # + conversations (customer, assignee, inbox, team joined) + tags
    "conversations?view=mine&status=any": 4,
    "conversations?view=my_teams&status=active": 4,
    "conversations?view=mentions": 4,
    "conversations?view=sla_due&status=any": 4,
    # + the newest conversations of the view, the matches among them (one UNION), the page
    "conversations?search=example.com&status=any": 7,
    "conversations?tag=refund&priority=high": 4,
    "conversations/{conversation}": 5,  # + conversation + tags + identities
    "conversations/{conversation}/events": 4,  # + conversation + events (actors joined)
    # + conversation + messages (authors joined) + attachments + mentions
    "conversations/{conversation}/messages": 6,
    "conversations/{conversation}/messages?after=0": 6,
    "messages/{message}": 5,  # + message (author joined) + attachments + mentions
}


def populate(workspace, agent, n: int) -> dict[str, int]:
    """n conversations, each with messages, notes with mentions, files, tags and a transfer."""
    inbox = InboxFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace)
    team.members.add(agent)
    colleague = UserFactory()
    MembershipFactory(workspace=workspace, user=colleague)
    actor = Actor.for_user(agent)
    conversation: Conversation | None = None
    message_id = 0
    for i in range(n):
        customer = CustomerFactory(workspace=workspace, value_tier="gold")
        IdentityFactory(customer=customer)
        IdentityFactory(customer=customer, kind="web", value=f"visitor-{n}-{i}")
        conversation = services.message_receive(
            inbox=inbox, customer=customer, text=f"Order {i}"
        ).conversation
        services.conversation_assign(
            conversation=conversation, actor=actor, assignee=agent, team=team
        )
        services.conversation_assign(
            conversation=conversation, actor=actor, assignee=colleague, reason="expert"
        )
        services.conversation_set_tags(
            conversation=conversation, names=["refund", "late"], actor=actor
        )
        services.conversation_set_priority(conversation=conversation, priority=2, actor=actor)
        message_id = services.message_send(
            conversation=conversation,
            author=agent,
            actor=actor,
            text="Here",
            attachments=[
                services.IncomingAttachment("a.txt", "text/plain", b"a"),
                services.IncomingAttachment("b.txt", "text/plain", b"b"),
            ],
        ).pk
        services.note_add(
            conversation=conversation,
            author=colleague,
            text=f"@{agent.username} look",
            actor=Actor.for_user(colleague),
        )
    assert conversation is not None
    return {"conversation": conversation.pk, "message": message_id}


@pytest.mark.parametrize("path", list(BUDGET))
def test_read_queries_are_pinned_and_constant(
    api, workspace, agent, path, django_assert_max_num_queries
):
    api.get("inboxes")  # the first use of a token also records when it was used
    few = populate(workspace, agent, 1)
    with django_assert_max_num_queries(BUDGET[path]):
        small = api.get(path.format(**few))
    many = populate(workspace, agent, 8)
    with django_assert_max_num_queries(BUDGET[path]):
        large = api.get(path.format(**many))

    assert small.status_code == 200, small.content[:300]
    assert large.status_code == 200, large.content[:300]
    body = large.json()
    if isinstance(body, dict) and "items" in body and "?" in path and "after" not in path:
        assert len(body["items"]) >= len(small.json()["items"])


def test_populated_data_is_what_the_budgets_measure(api, workspace, agent):
    ids = populate(workspace, agent, 2)

    listed = api.get("conversations", view="mine", status="any").json()["items"]
    thread = api.get(f"conversations/{ids['conversation']}/messages").json()["items"]

    # The lists really carry tags, files and mentions, so the budgets cover their reads.
    assert listed == []  # transferred to the colleague
    everyone = api.get("conversations", status="any").json()["items"]
    assert len(everyone) == 2
    assert all(c["tags"] == ["late", "refund"] for c in everyone)
    assert [len(m["attachments"]) for m in thread] == [0, 2, 0]
    assert [len(m["mentions"]) for m in thread] == [0, 0, 1]
