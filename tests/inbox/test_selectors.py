import datetime as dt

import pytest
from django.utils import timezone

from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.inbox import selectors, services
from ascolto.inbox.selectors import ConversationFilter
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.factories import InboxFactory


@pytest.fixture
def inbox(workspace):
    return InboxFactory(workspace=workspace)


def receive(inbox, text="hello", customer=None, **kwargs):
    customer = customer or CustomerFactory(workspace=inbox.workspace)
    return services.message_receive(
        inbox=inbox, customer=customer, text=text, **kwargs
    ).conversation


def ids(page):
    return [c.pk for c in page.items]


def test_views_mine_unassigned_my_teams(workspace, inbox, agent, actor):
    team = TeamFactory(workspace=workspace)
    team.members.add(agent)
    mine = receive(inbox)
    services.conversation_assign(conversation=mine, assignee=agent, actor=actor)
    teams = receive(inbox)
    services.conversation_assign(conversation=teams, team=team, actor=actor)
    loose = receive(inbox)

    def view(name):
        return set(
            ids(
                selectors.conversation_list(
                    workspace=workspace, user=agent, filters=ConversationFilter(view=name)
                )
            )
        )

    assert view("mine") == {mine.pk}
    assert view("unassigned") == {teams.pk, loose.pk}
    assert view("my_teams") == {teams.pk}
    assert view("all") == {mine.pk, teams.pk, loose.pk}


def test_high_value_and_mentions(workspace, inbox, agent, actor):
    vip = receive(inbox, customer=CustomerFactory(workspace=workspace, value_tier="platinum"))
    other = receive(inbox)
    author = UserFactory()
    MembershipFactory(workspace=workspace, user=author)
    services.note_add(
        conversation=other, author=author, actor=actor, text=f"@{agent.username} look"
    )

    def view(name):
        return ids(
            selectors.conversation_list(
                workspace=workspace, user=agent, filters=ConversationFilter(view=name)
            )
        )

    assert view("high_value") == [vip.pk]
    assert view("mentions") == [other.pk]


def test_sla_due_soon(workspace, inbox, agent):
    due = receive(inbox)
    due.first_response_due_at = timezone.now() + dt.timedelta(minutes=20)
    due.save()
    later = receive(inbox)
    later.first_response_due_at = timezone.now() + dt.timedelta(hours=5)
    later.save()
    page = selectors.conversation_list(
        workspace=workspace, user=agent, filters=ConversationFilter(view="sla_due")
    )
    assert ids(page) == [due.pk]


def test_search_matches_messages_subject_and_identities(workspace, inbox, agent):
    customer = CustomerFactory(workspace=workspace, name="Ilaria Conti")
    IdentityFactory(customer=customer, workspace=workspace, value="ilaria@conti.it")
    by_text = receive(inbox, text="Il rimborso non è arrivato")
    by_customer = receive(inbox, customer=customer)

    def search(term):
        return set(
            ids(
                selectors.conversation_list(
                    workspace=workspace, user=agent, filters=ConversationFilter(search=term)
                )
            )
        )

    assert search("rimborso") == {by_text.pk}
    assert search("conti.it") == {by_customer.pk}
    assert search("Ilaria") == {by_customer.pk}


def test_keyset_pages_cover_everything_once(workspace, inbox, agent):
    base = timezone.now()
    made = [receive(inbox, occurred_at=base - dt.timedelta(minutes=i // 2)).pk for i in range(7)]
    seen, cursor = [], None
    while True:
        page = selectors.conversation_list(workspace=workspace, user=agent, cursor=cursor, limit=3)
        seen += ids(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))


def test_other_workspace_is_invisible(workspace, other_workspace, inbox, agent):
    foreign = receive(InboxFactory(workspace=other_workspace))
    assert ids(selectors.conversation_list(workspace=workspace, user=agent)) == []
    with pytest.raises(NotFound):
        selectors.conversation_get(workspace=workspace, conversation_id=foreign.pk)


def test_unknown_view_is_a_clear_error(workspace, agent):
    with pytest.raises(ValidationFailed):
        selectors.conversation_list(
            workspace=workspace, user=agent, filters=ConversationFilter(view="x")
        )


def test_resync_returns_messages_after_cursor(workspace, inbox):
    conversation = receive(inbox, text="one")
    customer = conversation.customer
    first = selectors.thread(conversation=conversation)[-1]
    services.message_receive(inbox=inbox, customer=customer, text="two")
    services.message_receive(inbox=inbox, customer=customer, text="three")
    assert [
        m.text for m in selectors.messages_since(conversation=conversation, after_id=first.pk)
    ] == ["two", "three"]


def test_list_query_count_does_not_grow(workspace, inbox, agent, django_assert_max_num_queries):
    for _ in range(15):
        receive(inbox)
    with django_assert_max_num_queries(3):
        page = selectors.conversation_list(workspace=workspace, user=agent, limit=50)
        [(c.customer.name, c.inbox.name, c.assignee) for c in page.items]


def test_view_counts_stop_at_the_cap(workspace, inbox, agent, actor, monkeypatch):
    for _ in range(3):
        conversation = receive(inbox)
        services.conversation_assign(conversation=conversation, assignee=agent, actor=actor)
    receive(inbox)

    exact = selectors.view_counts(workspace=workspace, user=agent)
    monkeypatch.setattr(selectors, "VIEW_COUNT_CAP", 2)
    capped = selectors.view_counts(workspace=workspace, user=agent)

    assert (exact["all"], exact["mine"], exact["unassigned"]) == (4, 3, 1)
    assert (capped["all"], capped["mine"], capped["unassigned"]) == (3, 3, 1)
