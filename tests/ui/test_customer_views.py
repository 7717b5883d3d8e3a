"""Customer list and Customer 360 pages: scoping, search, filters, pagination, query counts."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from ascolto.core.actors import Actor
from ascolto.customers import services
from ascolto.customers.models import Customer
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.customers.factories import ActivityFactory, CustomerFactory, OrderFactory
from tests.ui.conftest import build_rich_customer, login

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")


def _rows(html: str) -> list[str]:
    """The customer names in the result rows, in order."""
    return re.findall(r'class="row-link" href="/customers/\d+/" dir="auto">([^<]*)<', html)


def test_list_shows_only_the_workspace_customers(agent_client: Client, workspace, other_workspace):  # type: ignore[no-untyped-def]
    CustomerFactory(workspace=workspace, name="Marco Rossi")
    CustomerFactory(workspace=other_workspace, name="Dana Levi")

    response = agent_client.get(LIST)

    assert response.status_code == 200
    assert _rows(response.content.decode()) == ["Marco Rossi"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bianchi", ["Giulia Bianchi"]),
        ("giulia1@example.it", ["Giulia Bianchi"]),
        ("+390612345601", ["Giulia Bianchi"]),
        ("CRM-1", ["Giulia Bianchi"]),
        ("nobody", []),
    ],
)
def test_search_by_name_email_phone_and_external_id_returns_a_fragment(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, actor, htmx, query, expected
):
    build_rich_customer(workspace, actor)
    CustomerFactory(workspace=workspace, name="Marco Rossi")

    response = agent_client.get(LIST, {"q": query}, **htmx)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="results"' in html
    assert _rows(html) == expected
    if not expected:
        assert "No customers match this search." in html


def test_filters_by_value_tier_and_orders(agent_client: Client, workspace, htmx):  # type: ignore[no-untyped-def]
    gold = CustomerFactory(
        workspace=workspace, name="Gold buyer", value_tier="gold", orders_count=3
    )
    CustomerFactory(workspace=workspace, name="Gold browser", value_tier="gold", orders_count=0)
    CustomerFactory(workspace=workspace, name="Unranked", value_tier="", orders_count=0)

    both = agent_client.get(LIST, {"tier": "gold", "has_orders": "yes"}, **htmx)
    unranked = agent_client.get(LIST, {"tier": "unranked"}, **htmx)
    without = agent_client.get(LIST, {"has_orders": "no"}, **htmx)

    assert _rows(both.content.decode()) == [gold.name]
    assert _rows(unranked.content.decode()) == ["Unranked"]
    assert _rows(without.content.decode()) == ["Unranked", "Gold browser"]


def test_full_page_keeps_the_filters_in_the_form(agent_client: Client, workspace):  # type: ignore[no-untyped-def]
    CustomerFactory(workspace=workspace, name="Gold buyer", value_tier="gold")

    html = agent_client.get(LIST, {"q": "buyer", "tier": "gold"}).content.decode()

    assert '<html lang="en" dir="ltr">' in html
    assert 'value="buyer"' in html
    assert '<option value="gold" selected>' in html
    assert _rows(html) == ["Gold buyer"]


@pytest.mark.parametrize(
    "params",
    [{"tier": "diamond"}, {"has_orders": "maybe"}, {"cursor": "not-a-cursor"}, {"q": "x" * 201}],
)
def test_bad_list_parameters_are_a_clear_400(agent_client: Client, workspace, params):  # type: ignore[no-untyped-def]
    response = agent_client.get(LIST, params)

    assert response.status_code == 400
    assert "400" in response.content.decode()


def test_bad_cursor_on_htmx_is_a_short_message(agent_client: Client, workspace, htmx):  # type: ignore[no-untyped-def]
    response = agent_client.get(LIST, {"cursor": "zzz"}, **htmx)

    assert response.status_code == 400
    assert response.content.decode().strip() == ("This page link is no longer valid; search again.")


def test_load_more_appends_the_next_page_with_the_same_filters(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, htmx
):
    for n in range(60):
        CustomerFactory(workspace=workspace, name=f"Anna {n:02d}", value_tier="silver")
    CustomerFactory(workspace=workspace, name="Anna gold", value_tier="gold")

    first = agent_client.get(LIST, {"tier": "silver"}).content.decode()
    names = _rows(first)
    match = re.search(r'hx-get="(/customers/\?[^"]+)"', first)
    assert match is not None
    more_url = match.group(1).replace("&amp;", "&")
    second = agent_client.get(more_url, **htmx).content.decode()

    assert len(names) == 50
    assert names[0] == "Anna 59"
    assert "tier=silver" in more_url
    assert "<table" not in second
    assert _rows(second) == [f"Anna {n:02d}" for n in range(9, -1, -1)]
    assert "Load more" not in second


def test_list_query_count_does_not_grow_with_rows(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, django_assert_max_num_queries
):
    for _ in range(50):
        CustomerFactory(workspace=workspace, organization=None)
    customer = Customer.objects.filter(workspace=workspace).first()
    assert customer is not None

    with django_assert_max_num_queries(5):
        response = agent_client.get(LIST)

    assert len(_rows(response.content.decode())) == 50


def test_customer_360_shows_the_whole_customer(agent_client: Client, rich_customer):  # type: ignore[no-untyped-def]
    response = agent_client.get(reverse("customers:detail", args=[rich_customer.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    # profile, typed attributes
    assert "Giulia Bianchi" in html
    assert "Europe/Rome" in html
    assert "May 17, 1990" in html
    assert "Platinum" in html
    assert "VIP since" in html
    assert "June 1, 2021" in html
    assert "Newsletter" in html
    # identities, including the ones moved by the merge
    for handle in ("giulia1@example.it", "+390612345601", "g.bianchi1@example.it"):
        assert handle in html
    # orders with lines and lifetime spend per currency
    assert "ORD-1-0" in html
    assert "Espresso cup 1" in html
    assert "300.00\u00a0EUR" in html
    assert "40.00\u00a0USD" in html
    # consent: current state and history
    assert "unsubscribe link" in html
    assert "History (2 changes)" in html
    # merge history
    assert "G. Bianchi" in html
    assert "Merged profiles" in html
    # timeline and audit
    assert "Order ORD-1-USD placed" in html
    assert "Profiles merged" in html
    assert "Profile updated" in html


def test_customer_360_of_another_workspace_is_404(  # type: ignore[no-untyped-def]
    client: Client, workspace, other_workspace, actor
):
    customer = build_rich_customer(workspace, actor)
    stranger = UserFactory()
    MembershipFactory(workspace=other_workspace, user=stranger)
    login(client, stranger)

    for name in ("detail", "timeline", "orders", "audit"):
        response = client.get(reverse(f"customers:{name}", args=[customer.pk]))
        assert response.status_code == 404, name


def test_merged_profile_redirects_to_the_surviving_one(agent_client: Client, workspace, actor):  # type: ignore[no-untyped-def]
    primary = CustomerFactory(workspace=workspace, name="Primary")
    duplicate = CustomerFactory(workspace=workspace, name="Duplicate")
    services.customer_merge(primary=primary, duplicate=duplicate, actor=actor)

    response = agent_client.get(reverse("customers:detail", args=[duplicate.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("customers:detail", args=[primary.pk])
    assert f"Customer #{duplicate.pk} was merged into this profile" in response.content.decode()


def test_timeline_load_more_returns_the_older_entries(agent_client: Client, workspace, htmx):  # type: ignore[no-untyped-def]
    customer = CustomerFactory(workspace=workspace)
    for n in range(30):
        ActivityFactory(
            customer=customer, title=f"Note {n:02d}", occurred_at=f"2025-01-{n + 1:02d}T09:00:00Z"
        )

    page = agent_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    match = re.search(r'hx-get="(/customers/\d+/timeline/\?cursor=[^"]+)"', page)
    assert match is not None
    more = agent_client.get(match.group(1), **htmx).content.decode()

    assert "Note 29" in page
    assert "Note 05" in page
    assert "Note 04" not in page
    assert "<html" not in more
    assert re.findall(r"Note \d\d", more) == [f"Note {n:02d}" for n in range(4, -1, -1)]


def test_orders_load_more(agent_client: Client, workspace, htmx):  # type: ignore[no-untyped-def]
    customer = CustomerFactory(workspace=workspace)
    for n in range(12):
        OrderFactory(customer=customer, external_id=f"X-{n:02d}")

    page = agent_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    match = re.search(r'hx-get="(/customers/\d+/orders/\?cursor=[^"]+)"', page)
    assert match is not None
    more = agent_client.get(match.group(1), **htmx).content.decode()

    assert re.findall(r"<code>(X-\d\d)</code>", more) == ["X-01", "X-00"]


def test_customer_audit_page_lists_the_changes(agent_client: Client, rich_customer):  # type: ignore[no-untyped-def]
    html = agent_client.get(reverse("customers:audit", args=[rich_customer.pk])).content.decode()

    assert "Customer created" in html
    assert "Consent revoked" in html
    assert "Profiles merged" in html
    assert "gold" in html
    assert "platinum" in html


def test_customer_360_query_count_does_not_grow_with_history(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, django_assert_max_num_queries
):
    actor = Actor.system("test")
    small = build_rich_customer(workspace, actor, orders=1, tag=1)
    large = build_rich_customer(workspace, actor, orders=12, tag=2)

    for customer in (small, large):
        with django_assert_max_num_queries(16):
            response = agent_client.get(reverse("customers:detail", args=[customer.pk]))
        assert response.status_code == 200
