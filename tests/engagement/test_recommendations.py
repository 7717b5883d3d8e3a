"""Recommendations from purchase history: bought together, replenishment, template variables,
the Customer 360 panel, the API and the daily events for re-order and win-back rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from django.test import Client
from django.urls import reverse

from ascolto.core.actors import Actor
from ascolto.engagement import lifecycle_events, templates_render
from ascolto.engagement.models import Event
from ascolto.recommendations import cli as recommendations_cli
from ascolto.recommendations import evaluation, scoring, selectors, services
from ascolto.recommendations.models import ItemAffinity
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
TODAY = dt.date(2026, 3, 28)


def buy(customer: Any, day: dt.date, *items: str, status: str = "delivered") -> Any:
    """An order of the customer on `day` with one line per item ("A" is SKU A, named "Item A")."""
    order = OrderFactory(
        customer=customer,
        placed_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        status=status,
    )
    for sku in items:
        order.lines.create(
            sku=sku, name=f"Item {sku}", quantity=Decimal(1), unit_price=Decimal("9.90")
        )
    return order


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setattr(selectors, "_today", lambda: TODAY)
    return TODAY


@pytest.fixture
def basket_set(workspace: Any) -> dict[str, Any]:
    """8 orders: {A,B} {A,B,C} {A,C} {B} {A,B} {D} {D} {E}. Counts A 4, B 4, C 2, D 2, E 1.

    Hand-computed: A→B together 3, confidence 3/4 = 0.75, lift 0.75 / (4/8) = 1.5; A→C together
    2, confidence 0.5, lift 0.5 / (2/8) = 2; C→A confidence 2/2 = 1, lift 2; B→A as A→B. B and C
    share one order only, under the minimum of 2.
    """
    day = dt.date(2026, 1, 10)
    dana, marco, other = (CustomerFactory(workspace=workspace) for _ in range(3))
    buy(dana, day, "A", "B")
    buy(marco, day, "A", "B", "C")
    buy(marco, day + dt.timedelta(days=1), "A", "C")
    buy(other, day, "B")
    buy(other, day + dt.timedelta(days=2), "A", "B")
    buy(other, day + dt.timedelta(days=3), "D")
    buy(marco, day + dt.timedelta(days=4), "D")
    buy(other, day + dt.timedelta(days=5), "E")
    buy(other, day, "A", "Z", status="cancelled")  # not a purchase
    services.affinities_recompute(workspace=workspace)
    return {"dana": dana, "marco": marco, "other": other}


def test_co_occurrence_scores_match_the_hand_computed_lift_and_confidence() -> None:
    orders = np.array([1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 7, 8, 1])  # the last line repeats A in 1
    items = np.array([0, 1, 0, 1, 2, 0, 2, 1, 0, 1, 3, 3, 4, 0])  # A=0 B=1 C=2 D=3 E=4

    pairs = scoring.co_occurrence(orders, items, n_items=5, min_together=2)

    found = {
        (int(a), int(b)): (int(n), round(float(c), 6), round(float(lift), 6))
        for a, b, n, c, lift in zip(
            pairs.antecedent,
            pairs.consequent,
            pairs.together,
            pairs.confidence,
            pairs.lift,
            strict=True,
        )
    }
    assert pairs.orders == 8
    assert found == {
        (0, 1): (3, 0.75, 1.5),
        (1, 0): (3, 0.75, 1.5),
        (0, 2): (2, 0.5, 2.0),
        (2, 0): (2, 1.0, 2.0),
    }


def test_stored_pairs_leave_out_cancelled_orders(workspace: Any, basket_set: Any) -> None:
    stored = {
        (a.item_name, a.other_name): (a.together, round(a.confidence, 6), round(a.lift, 6))
        for a in ItemAffinity.objects.filter(workspace=workspace)
    }

    assert stored == {
        ("Item A", "Item B"): (3, 0.75, 1.5),
        ("Item B", "Item A"): (3, 0.75, 1.5),
        ("Item A", "Item C"): (2, 0.5, 2.0),
        ("Item C", "Item A"): (2, 1.0, 2.0),
    }


def test_recommendations_leave_out_what_the_customer_already_owns(basket_set: Any) -> None:
    found = selectors.recommendations_for(customer=basket_set["dana"])

    assert [(r.name, r.sku, r.because_of) for r in found] == [("Item C", "C", "Item A")]
    assert found[0].reason == "Bought with Item A in 50% of its orders"


def test_an_item_the_customer_re_buys_may_be_recommended_again(
    workspace: Any, basket_set: Any
) -> None:
    dana = basket_set["dana"]
    buy(dana, dt.date(2026, 2, 10), "B")  # B bought on two days: a consumable for Dana

    found = selectors.recommendations_for(customer=dana)

    assert [r.name for r in found] == ["Item B", "Item C"]


def test_items_without_a_sku_are_matched_by_their_normalised_name(workspace: Any) -> None:
    first, second, third = (CustomerFactory(workspace=workspace) for _ in range(3))
    for person, names in (
        (first, ["Green Tea", "Honey"]),
        (second, ["green  tea", "HONEY"]),
        (third, ["Coffee"]),
    ):
        order = buy(person, dt.date(2026, 1, 5))
        for name in names:
            order.lines.create(name=name, quantity=1, unit_price=Decimal(3))
    newcomer = CustomerFactory(workspace=workspace)
    order = buy(newcomer, dt.date(2026, 2, 1))
    order.lines.create(name="GREEN TEA", quantity=1, unit_price=Decimal(3))
    services.affinities_recompute(workspace=workspace)

    found = selectors.recommendations_for(customer=newcomer)

    # Tea: 3 orders, Honey: 2 orders of 4; together 2 → confidence 2/3, lift (2/3)/(2/4).
    assert [(r.name, round(r.confidence, 4), round(r.lift, 4)) for r in found] == [
        ("HONEY", 0.6667, 1.3333)
    ]


def coffee_history(workspace: Any) -> tuple[Any, Any]:
    """Regular buys coffee on 1 Jan, 29 Jan (+28) and 4 Mar (+34): median gap 31, due 4 Apr.
    Newcomer bought it once, on 10 Mar: the pooled median (28, 34) → 31, due 10 Apr."""
    regular, newcomer = CustomerFactory(workspace=workspace), CustomerFactory(workspace=workspace)
    for day in (dt.date(2026, 1, 1), dt.date(2026, 1, 29), dt.date(2026, 3, 4)):
        buy(regular, day, "COFFEE")
    buy(newcomer, dt.date(2026, 3, 10), "COFFEE")
    services.affinities_recompute(workspace=workspace)
    return regular, newcomer


def test_replenishment_due_dates_follow_the_customer_or_the_item_rhythm(
    workspace: Any, today: dt.date
) -> None:
    regular, newcomer = coffee_history(workspace)

    mine = selectors.replenishment_for(customer=regular)
    theirs = selectors.replenishment_for(customer=newcomer, due_only=False)

    assert [(r.sku, r.due_on, r.interval_days, r.own_rhythm) for r in mine] == [
        ("COFFEE", dt.date(2026, 4, 4), 31, True)
    ]
    assert mine[0].reason == "Usually re-bought every 31 days, due April 4, 2026"
    assert [(r.due_on, r.own_rhythm) for r in theirs] == [(dt.date(2026, 4, 10), False)]
    # 10 Apr is 13 days away: outside the 7-day window, so not due yet.
    assert selectors.replenishment_for(customer=newcomer) == []
    assert selectors.replenishment_for(customer=newcomer, today=dt.date(2026, 4, 3)) != []


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Item COFFEE: April 4, 2026"),
        ("it", "Item COFFEE: 04 Aprile 2026"),
        ("he", "Item COFFEE: 4 באפריל 2026"),
    ],
)
def test_templates_see_recommendations_and_what_is_due_in_the_customer_language(
    workspace: Any, today: dt.date, locale: str, expected: str
) -> None:
    regular, _ = coffee_history(workspace)
    regular.locale = locale
    regular.save()
    marco = CustomerFactory(workspace=workspace)
    for day in (dt.date(2026, 1, 3), dt.date(2026, 1, 4)):
        buy(marco, day, "COFFEE", "FILTERS")
    buy(CustomerFactory(workspace=workspace), dt.date(2026, 1, 5), "TEA")
    services.affinities_recompute(workspace=workspace)

    rendered = templates_render.render(
        body=(
            "{% for item in replenishment_due %}{{ item.name }}: {{ item.due_on }}{% endfor %}\n"
            "{% for item in recommendations %}{{ item.name }} ({{ item.sku }}){% empty %}-"
            "{% endfor %}"
        ),
        subject="",
        customer=regular,
        order=None,
        event_payload={},
    )

    assert rendered.text.splitlines() == [expected, "Item FILTERS (FILTERS)"]


def test_the_panel_is_lazy_loaded_on_customer_360(
    client: Client, agent: Any, workspace: Any, basket_set: Any, today: dt.date
) -> None:
    login(client, agent)
    dana = basket_set["dana"]
    panel_url = reverse("recommendations:customer_panel", args=[dana.pk])

    page = client.get(reverse("customers:detail", args=[dana.pk])).content.decode()
    panel = client.get(panel_url, HTTP_HX_REQUEST="true")

    assert f'hx-get="{panel_url}"' in page
    assert panel.status_code == 200
    html = panel.content.decode()
    assert "Item C" in html
    assert "Bought with Item A in 50% of its orders" in html
    assert "Nothing due for re-order." in html


def test_the_panel_and_the_api_are_scoped_to_the_workspace(
    client: Client, agent: Any, api: Any, other_workspace: Any
) -> None:
    stranger = CustomerFactory(workspace=other_workspace)
    buy(stranger, dt.date(2026, 1, 1), "A", "B")
    login(client, agent)

    assert (
        client.get(reverse("recommendations:customer_panel", args=[stranger.pk])).status_code == 404
    )
    assert api.get(f"customers/{stranger.pk}/recommendations").status_code == 404
    assert api.get("customers/999999/recommendations").status_code == 404


def test_pairs_of_another_workspace_do_not_leak(
    workspace: Any, other_workspace: Any, basket_set: Any
) -> None:
    lonely = CustomerFactory(workspace=other_workspace)
    buy(lonely, dt.date(2026, 1, 1), "A")
    services.affinities_recompute(workspace=other_workspace)

    assert selectors.recommendations_for(customer=lonely) == []


def test_the_api_returns_both_lists(api: Any, workspace: Any, today: dt.date) -> None:
    regular, _ = coffee_history(workspace)

    response = api.get(f"customers/{regular.pk}/recommendations")

    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == regular.pk
    assert body["recommendations"] == []
    assert body["replenishment_due"] == [
        {
            "name": "Item COFFEE",
            "sku": "COFFEE",
            "due_on": "2026-04-04",
            "interval_days": 31,
            "own_rhythm": True,
            "reason": "Usually re-bought every 31 days, due April 4, 2026",
        }
    ]


def test_the_daily_job_records_each_due_item_and_churn_crossing_once(
    workspace: Any, today: dt.date
) -> None:
    regular, newcomer = coffee_history(workspace)
    # Orders on 21 Feb, 3 Mar and 13 Mar... of another customer: usual gap 10 days; risk crosses
    # 0.9 after ceil(10 · ln 10) = 24 days of silence → on 6 Apr.
    lapsing = CustomerFactory(workspace=workspace)
    for day in (dt.date(2026, 2, 21), dt.date(2026, 3, 3), dt.date(2026, 3, 13)):
        buy(lapsing, day, "SOAP")
    crossing_day = dt.date(2026, 4, 6)

    first = lifecycle_events.lifecycle_events_record(
        workspace=workspace, actor=SYSTEM, today=crossing_day
    )
    again = lifecycle_events.lifecycle_events_record(
        workspace=workspace, actor=SYSTEM, today=crossing_day
    )

    assert (first.replenishment_due, first.churn_risk) == (3, 1)
    assert (again.replenishment_due, again.churn_risk) == (0, 0)
    churn = Event.objects.get(workspace=workspace, type="customer.churn_risk")
    assert churn.customer == lapsing
    assert churn.payload["crossed_on"] == "2026-04-06"
    assert churn.payload["usual_gap_days"] == 10.0
    due = Event.objects.filter(workspace=workspace, type="replenishment.due")
    assert {(e.customer_id, e.payload["sku"], e.payload["due_on"]) for e in due} == {
        (regular.pk, "COFFEE", "2026-04-04"),
        (newcomer.pk, "COFFEE", "2026-04-10"),  # 4 days ahead: within the week's notice
        (lapsing.pk, "SOAP", "2026-03-23"),
    }


def test_the_day_before_the_crossing_there_is_no_churn_event(workspace: Any) -> None:
    lapsing = CustomerFactory(workspace=workspace)
    for day in (dt.date(2026, 2, 21), dt.date(2026, 3, 3), dt.date(2026, 3, 13)):
        buy(lapsing, day, "SOAP")

    recorded = lifecycle_events.lifecycle_events_record(
        workspace=workspace, actor=SYSTEM, today=dt.date(2026, 4, 5)
    )

    assert recorded.churn_risk == 0


def test_the_offline_hit_rate_counts_a_new_item_among_the_top_suggestions(tmp_path: Any) -> None:
    # Before December: A and B together twice; A alone once (customer 3); P alone four times,
    # so P is the most popular item. In December customer 3 buys B.
    rows = [
        ("1", "A", "1/5/2011 10:00", "c1"),
        ("1", "B", "1/5/2011 10:00", "c1"),
        ("2", "A", "1/6/2011 10:00", "c2"),
        ("2", "B", "1/6/2011 10:00", "c2"),
        ("3", "A", "1/7/2011 10:00", "c3"),
        *[(f"P{n}", "P", f"2/{n}/2011 10:00", "c4") for n in range(1, 5)],
        ("9", "B", "12/1/2011 10:00", "c3"),
        ("C10", "A", "12/2/2011 10:00", "c3"),  # a cancellation: skipped
    ]
    path = tmp_path / "retail.csv"
    path.write_text(
        '"","InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice",'
        '"CustomerID","Country"\n'
        + "".join(
            f'"{i}","{o}","{s}","x",1,"{d}",1.0,{c},"UK"\n' for i, (o, s, d, c) in enumerate(rows)
        ),
        encoding="utf-8",
    )

    result = evaluation.hit_rate(evaluation.read_online_retail(path), k=1, train_share=0.9)

    assert result.split == dt.datetime(2011, 12, 1, 10, 0)
    assert (result.train_orders, result.pairs) == (7, 2)  # A→B and B→A
    assert (result.evaluable, result.hits, result.baseline_hits) == (1, 1, 0)


def test_the_recompute_command_fills_the_pairs(workspace: Any, basket_set: Any) -> None:
    ItemAffinity.objects.all().delete()

    result = CliRunner().invoke(recommendations_cli.recommendations, ["recompute"])

    assert result.exit_code == 0, result.output
    assert "8 orders, 5 items, 4 pairs, 0 item cycles" in result.output
    assert ItemAffinity.objects.filter(workspace=workspace).count() == 4


def test_the_daily_job_covers_every_workspace_each_with_its_own_customers(
    workspace: Any, other_workspace: Any
) -> None:
    ours, theirs = CustomerFactory(workspace=workspace), CustomerFactory(workspace=other_workspace)
    for person in (ours, theirs):
        for day in (dt.date(2026, 2, 21), dt.date(2026, 3, 3), dt.date(2026, 3, 13)):
            buy(person, day, "SOAP")

    first = lifecycle_events.record_all(actor=SYSTEM, today=dt.date(2026, 4, 6))
    again = lifecycle_events.record_all(actor=SYSTEM, today=dt.date(2026, 4, 6))

    assert (first, again) == (4, 0)  # per workspace: one replenishment.due, one churn crossing
    assert {(e.workspace_id, e.customer_id) for e in Event.objects.all()} == {
        (workspace.pk, ours.pk),
        (other_workspace.pk, theirs.pk),
    }
