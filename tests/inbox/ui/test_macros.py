"""Macros: variables rendered and escaped, nothing beyond them reachable, actions applied in
one go (a failing action undoes the reply), and the console's macro picker and pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from ascolto.core.actors import Actor
from ascolto.core.errors import Forbidden, NotFound, ValidationFailed
from ascolto.core.models import AuditLogEntry
from ascolto.inbox import macros, services
from ascolto.inbox.models import Conversation, Macro, Message
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.ui.conftest import start

pytestmark = pytest.mark.django_db

GREETING = (
    "Hi {{ customer.first_name }} ({{ customer.name }}), order {{ last_order.external_id }} is "
    "{{ last_order.status|lower }}. {{ agent.name }}"
)


def make(workspace: Any, user: Any, body: str = GREETING, actions: Any = None, **kw: Any) -> Macro:
    return macros.macro_create(
        workspace=workspace,
        actor=Actor.for_user(user),
        name=kw.pop("name", "Where is it"),
        body=body,
        actions=actions,
        **kw,
    )


def test_variables_render_for_the_customer(workspace: Any, agent: Any, customer: Any) -> None:
    agent.first_name = "Sara"

    rendered = macros.macro_render(body=GREETING, customer=customer, agent=agent)

    assert rendered.text == "Hi Dana (Dana Levi), order W-1042 is shipped. Sara"


def test_the_order_status_reads_in_the_customer_language(agent: Any, customer: Any) -> None:
    customer.locale = "it"

    rendered = macros.macro_render(body="{{ last_order.status }}", customer=customer, agent=agent)

    assert rendered.text == "Spedito"


def test_html_in_values_is_escaped(workspace: Any, agent: Any) -> None:
    hostile = CustomerFactory(workspace=workspace, name='<img src=x onerror="alert(1)"> & Co')

    rendered = macros.macro_render(
        body="<p>Dear {{ customer.name }}</p>", customer=hostile, agent=agent
    )

    assert rendered.html == '<p>Dear &lt;img src=x onerror="alert(1)"&gt; &amp; Co</p>'
    assert rendered.text == 'Dear <img src=x onerror="alert(1)"> & Co'  # plain text, shown escaped


@pytest.mark.parametrize(
    "body",
    [
        "{% debug %}",
        "{% load static %}{% static 'x' %}",
        "{% include 'base.html' %}",
        "{% if customer.name %}hi{% endif %}",
        "{{ customer.email }}",
        "{{ agent.password }}",
        "{{ customer.__class__ }}",
        "{{ customer.name|safe }}",
        "{{ customer.name|pprint }}",
        "{{ customer.name|default:agent.name }}",
        "{{ 'literal' }}",
        "{% comment %}never closed",
    ],
)
def test_bodies_that_reach_beyond_the_variables_are_refused(
    workspace: Any, agent: Any, body: str
) -> None:
    with pytest.raises(ValidationFailed) as error:
        make(workspace, agent, body=body)

    assert "body" in error.value.field_errors
    assert not Macro.objects.exists()


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ({"status": "snoozed"}, "status"),
        ({"priority": 7}, "priority"),
        ({"priority": True}, "priority"),
        ({"tags": "vip"}, "tags"),
        ({"team_id": 999999}, "team_id"),
        ({"launch": "rockets"}, "actions"),
        (["status"], "actions"),
    ],
)
def test_bad_actions_are_refused(workspace: Any, agent: Any, actions: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        make(workspace, agent, actions=actions)

    assert field in error.value.field_errors


def test_a_team_of_another_workspace_is_refused(
    workspace: Any, agent: Any, other_workspace: Any
) -> None:
    foreign = TeamFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed):
        make(workspace, agent, actions={"team_id": foreign.pk})


def test_personal_and_shared_macros(workspace: Any, agent: Any, admin_user: Any) -> None:
    mine = make(workspace, agent, name="Mine")
    shared = make(workspace, admin_user, name="Shared", shared=True)
    make(workspace, admin_user, name="Admin's own")
    colleague = UserFactory()
    MembershipFactory(workspace=workspace, user=colleague)

    assert [m.name for m in macros.macros_for(workspace=workspace, user=agent)] == [
        "Mine",
        "Shared",
    ]
    with pytest.raises(NotFound):
        macros.macro_get(workspace=workspace, user=colleague, macro_id=mine.pk)
    with pytest.raises(Forbidden):
        make(workspace, agent, name="Try shared", shared=True)
    with pytest.raises(Forbidden):
        macros.macro_update(macro=shared, actor=Actor.for_user(agent), name="X", body="x")
    macros.macro_update(macro=shared, actor=Actor.for_user(admin_user), name="Shared!", body="x")
    macros.macro_delete(macro=mine, actor=Actor.for_user(agent))
    assert list(Macro.objects.values_list("name", flat=True).order_by("name")) == [
        "Admin's own",
        "Shared!",
    ]
    assert AuditLogEntry.objects.filter(action__startswith="macro.").count() == 5


def test_applying_replies_then_runs_the_actions(
    workspace: Any, agent: Any, conversation: Conversation
) -> None:
    team = TeamFactory(workspace=workspace, name="Logistics")
    macro = make(
        workspace,
        agent,
        actions={"tags": ["Shipping"], "priority": 2, "team_id": team.pk, "status": "pending"},
    )

    with transaction.atomic():
        result = macros.macro_apply(
            macro=macro, conversation=conversation, agent=agent, actor=Actor.for_user(agent)
        )

    conversation.refresh_from_db()
    assert result.message is not None
    assert "order W-1042 is shipped" in result.message.text
    assert result.applied == ["tags", "priority", "team", "status"]
    assert list(conversation.tags.values_list("name", flat=True)) == ["shipping"]
    assert (conversation.priority, conversation.team, conversation.status) == (2, team, "pending")
    # The reply came first (it assigned the agent), then the hand-over to the team.
    kinds = list(conversation.events.values_list("kind", flat=True))
    assert kinds == ["created", "assigned", "tagged", "priority", "transferred", "status"]


def test_the_composer_picks_a_macro_and_sends_it(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, agent, conversation, htmx
) -> None:
    macro = make(
        workspace,
        agent,
        body="Hello {{ customer.first_name }}!",
        actions={"status": "resolved", "tags": ["faq"]},
    )

    preview = agent_client.get(
        reverse("inbox:macro_preview", args=[conversation.pk, macro.pk]), **htmx
    ).content.decode()
    sent = agent_client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"text": "Hello Dana! Edited.", "macro": str(macro.pk)},
        **htmx,
    )

    assert '"Hello Dana!"' in preview  # the text the composer fills in (JSON)
    assert "Add tags: faq" in preview
    assert "Set status to Resolved" in preview
    assert sent.status_code == 200
    conversation.refresh_from_db()
    assert conversation.messages.get(kind="outbound").text == "Hello Dana! Edited."
    assert conversation.status == "resolved"


def test_a_failing_action_undoes_the_reply(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, agent, conversation, htmx, monkeypatch
) -> None:
    macro = make(workspace, agent, actions={"tags": ["refund"], "status": "resolved"})

    def broken(**kwargs: Any) -> None:
        raise ValidationFailed("The status cannot change now.")

    monkeypatch.setattr(services, "conversation_set_status", broken)
    response = agent_client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"text": "Done!", "macro": str(macro.pk)},
        **htmx,
    )

    assert response.status_code == 400
    assert not Message.objects.filter(kind="outbound").exists()
    assert not conversation.tags.exists()
    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert conversation.message_count == 1


def test_another_members_macro_cannot_be_used(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, conversation, htmx
) -> None:
    colleague = UserFactory()
    MembershipFactory(workspace=workspace, user=colleague)
    private = make(workspace, colleague, name="Private")

    preview = agent_client.get(
        reverse("inbox:macro_preview", args=[conversation.pk, private.pk]), **htmx
    )
    sent = agent_client.post(
        reverse("inbox:reply", args=[conversation.pk]),
        {"text": "x", "macro": str(private.pk)},
        **htmx,
    )

    assert preview.status_code == 404
    assert sent.status_code == 400
    assert not Message.objects.filter(kind="outbound").exists()


def test_macro_pages_create_and_explain_errors(agent_client: Client, agent, workspace) -> None:  # type: ignore[no-untyped-def]
    bad = agent_client.post(
        reverse("inbox:macro_new"), {"name": "Hi", "body": "{{ customer.iban }}"}
    )
    good = agent_client.post(
        reverse("inbox:macro_new"),
        {
            "name": "Thanks",
            "body": "Thanks {{ customer.first_name }}",
            "status": "resolved",
            "tags": "thanks, faq",
            "priority": "",
        },
    )
    listing = agent_client.get(reverse("inbox:macros")).content.decode()

    assert bad.status_code == 400
    assert "Unknown variable" in bad.content.decode()
    assert "customer.iban" in bad.content.decode()  # the form keeps what was typed
    assert good.status_code == 302
    macro = Macro.objects.get()
    assert macro.owner == agent
    assert macro.actions == {"status": "resolved", "tags": ["faq", "thanks"]}
    assert "Set status to Resolved" in listing
    assert "Only you" in listing


def test_macro_pages_of_another_member_are_404(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, other_workspace
) -> None:
    colleague = UserFactory()
    MembershipFactory(workspace=workspace, user=colleague)
    private = make(workspace, colleague, name="Private")
    outsider = UserFactory()
    MembershipFactory(workspace=other_workspace, user=outsider, role="admin")
    foreign = make(other_workspace, outsider, name="Foreign", shared=True)

    for macro in (private, foreign):
        assert agent_client.get(reverse("inbox:macro_edit", args=[macro.pk])).status_code == 404
        deleted = agent_client.post(reverse("inbox:macro_delete", args=[macro.pk]))
        assert deleted.status_code == 404
    assert Macro.objects.count() == 2


def test_conversations_of_other_customers_use_their_own_values(
    workspace: Any, agent: Any, inbox: Any
) -> None:
    noa = CustomerFactory(workspace=workspace, name="Noa Cohen")
    conversation = start(inbox, noa)

    rendered = macros.macro_render(body=GREETING, customer=conversation.customer, agent=agent)

    assert rendered.text.startswith("Hi Noa (Noa Cohen), order  is .")  # no order: empty values
