"""Demo data: deterministic, multilingual, Pareto-shaped, loadable twice without duplicates."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from ascolto.accounts.models import Team
from ascolto.core.models import AuditLogEntry, Workspace
from ascolto.customers import demo
from ascolto.customers.models import (
    Activity,
    Consent,
    ConsentChange,
    Customer,
    Identity,
    Order,
    OrderLine,
)

HEBREW = re.compile(r"[\u0590-\u05FF]")
ANCHOR = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def snapshot(workspace: Workspace) -> list[tuple[Any, ...]]:
    """Everything a person sees of the demo customers, without ids and creation times."""
    rows = []
    for c in Customer.objects.filter(workspace=workspace).order_by("external_id"):
        rows.append(
            (
                c.external_id,
                c.name,
                c.locale,
                c.timezone,
                c.birthday,
                c.attributes,
                c.value_tier,
                c.lifetime_spend,
                c.orders_count,
                c.last_order_at,
                c.organization.name if c.organization else None,
                sorted(c.identities.values_list("kind", "value")),
                sorted(
                    (
                        o.external_id,
                        o.status,
                        o.total,
                        o.placed_at,
                        o.delivered_at,
                        sorted(o.lines.values_list("sku", "quantity", "unit_price")),
                    )
                    for o in c.orders.all()
                ),
                sorted(c.consents.values_list("purpose", "channel", "granted", "recorded_at")),
                sorted(
                    c.consent_changes.values_list("purpose", "channel", "granted", "recorded_at")
                ),
            )
        )
    return rows


def counts(workspace: Workspace) -> dict[str, int]:
    models = (Customer, Identity, Order, Consent, ConsentChange, Activity, AuditLogEntry)
    found = {m.__name__: m.objects.filter(workspace=workspace).count() for m in models}
    found["OrderLine"] = OrderLine.objects.filter(order__workspace=workspace).count()
    return found


@pytest.mark.django_db
def test_same_seed_gives_the_same_data():
    first = demo.load_demo(customers=12, seed=7, workspace_slug="demo-a")
    second = demo.load_demo(customers=12, seed=7, workspace_slug="demo-b")
    other = demo.load_demo(customers=12, seed=8, workspace_slug="demo-c")

    assert snapshot(first) == snapshot(second)
    assert snapshot(first) != snapshot(other)
    assert (first.name, first.slug) == ("Demo", "demo-a")


@pytest.mark.django_db
def test_loading_twice_duplicates_nothing_and_more_adds_the_rest():
    workspace = demo.load_demo(customers=8, seed=3)
    before = counts(workspace)

    again = demo.load_demo(customers=8, seed=3)

    assert again.pk == workspace.pk
    assert counts(workspace) == before
    demo.load_demo(customers=10, seed=3)
    assert Customer.objects.filter(workspace=workspace).count() == 10
    assert Workspace.objects.filter(slug="demo").count() == 1


@pytest.mark.django_db
def test_small_loads_build_timelines_and_stats_through_the_services():
    workspace = demo.load_demo(customers=15, seed=42)

    buyers = Customer.objects.filter(workspace=workspace, orders_count__gt=0)
    assert buyers.exists()
    for customer in buyers:
        spend = sum(
            (
                o.total
                for o in customer.orders.exclude(status__in=["cancelled", "returned", "refunded"])
            ),
            Decimal("0"),
        )
        assert customer.lifetime_spend == spend
        assert customer.value_tier in {"platinum", "gold", "silver", "bronze"}
        for order in customer.orders.all():
            assert order.total == sum(line.line_total for line in order.lines.all())
    kinds = set(Activity.objects.filter(workspace=workspace).values_list("kind", flat=True))
    assert {"customer.created", "consent.changed"} <= kinds
    team = Team.objects.get(workspace=workspace, name="Customer care")
    assert team.members.count() == len(demo.AGENTS)


@pytest.mark.django_db
def test_bulk_path_loads_the_same_data_as_the_services(monkeypatch):
    serviced = demo.load_demo(customers=20, seed=11, workspace_slug="by-services")
    monkeypatch.setattr(demo, "SERVICE_PATH_MAX", 5)
    monkeypatch.setattr(demo, "CHUNK", 7)

    bulk = demo.load_demo(customers=20, seed=11, workspace_slug="in-bulk")

    assert snapshot(bulk) == snapshot(serviced)
    before = counts(bulk)
    demo.load_demo(customers=20, seed=11, workspace_slug="in-bulk")
    assert counts(bulk) == before


def test_spending_is_pareto_shaped():
    customers = [demo.demo_customer(42, i, ANCHOR) for i in range(1, 3001)]
    spend = sorted((c.spend for c in customers), reverse=True)
    top_fifth = sum(spend[: len(spend) // 5]) / sum(spend)

    assert Decimal("0.7") <= top_fifth <= Decimal("0.9")
    assert any(c.orders == [] for c in customers)
    placed = [o.placed_at for c in customers for o in c.orders]
    assert ANCHOR - dt.timedelta(days=731) <= min(placed)
    assert max(placed) < ANCHOR
    statuses = {o.status for c in customers for o in c.orders}
    assert {"delivered", "shipped", "delayed", "cancelled", "returned"} <= statuses


def test_names_places_and_phones_are_multilingual():
    customers = [demo.demo_customer(42, i, ANCHOR) for i in range(1, 401)]
    by_locale: dict[str, list[demo.DemoCustomer]] = {}
    for customer in customers:
        by_locale.setdefault(customer.locale, []).append(customer)

    assert set(by_locale) == {"it", "he", "en"}
    assert all(HEBREW.search(c.name) for c in by_locale["he"])
    assert all(HEBREW.search(c.attributes["city"]) for c in by_locale["he"])
    assert not any(HEBREW.search(c.name) for c in by_locale["it"] + by_locale["en"])
    italian = {first for first, _ in demo.COUNTRIES[0].first}
    assert all(c.name.split()[0] in italian for c in by_locale["it"])
    phones = [value for c in customers for kind, value in c.identities if kind == "phone"]
    assert {p.split()[0] for p in phones} == {"+39", "+972", "+44", "+1"}
    emails = [value for c in customers for kind, value in c.identities if kind == "email"]
    assert len(set(emails)) == len(emails)


@pytest.mark.django_db
def test_phones_are_stored_in_e164():
    workspace = demo.load_demo(customers=15, seed=5)

    phones = Identity.objects.filter(workspace=workspace, kind__in=["phone", "whatsapp"])
    assert phones.exists()
    assert all(re.fullmatch(r"\+[1-9]\d{7,14}", p.value) for p in phones)
