import datetime as dt
from decimal import Decimal

import pytest

from ascolto.core.errors import ValidationFailed
from ascolto.customers import services
from ascolto.customers.models import Customer, Order


def test_bulk_customers_writes_good_rows_reports_bad_ones_and_is_idempotent(workspace, actor):
    rows = [
        services.CustomerInput(
            external_id="c1", name="Anna", identities=[("email", "anna@example.it")]
        ),
        services.CustomerInput(external_id="c2", name="Bad", identities=[("email", "nope")]),
        services.CustomerInput(external_id="c3", name="Ben", value_tier="gold"),
        services.CustomerInput(external_id="", name="No id"),
    ]

    first = services.customers_bulk_upsert(workspace=workspace, rows=rows, actor=actor)
    assert len(first.created) == 2
    assert [(e.index, sorted(e.field_errors)) for e in first.errors] == [
        (1, ["value"]),
        (3, ["external_id"]),
    ]
    assert Customer.objects.filter(workspace=workspace).count() == 2

    rows[2].name = "Ben Ami"
    second = services.customers_bulk_upsert(workspace=workspace, rows=rows, actor=actor)
    assert second.created == []
    assert sorted(second.updated) == sorted(first.created)
    assert Customer.objects.get(external_id="c3").name == "Ben Ami"
    assert Customer.objects.filter(workspace=workspace).count() == 2


def test_bulk_orders_reference_customers_by_external_id(workspace, other_workspace, actor):
    services.customer_create(workspace=workspace, actor=actor, external_id="c1")
    services.customer_create(workspace=other_workspace, actor=actor, external_id="c-foreign")
    placed = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)

    def row(cust, ext):
        return services.OrderRowInput(
            customer_external_id=cust,
            order=services.OrderInput(
                external_id=ext, placed_at=placed, total=Decimal("5"), currency="EUR"
            ),
        )

    result = services.orders_bulk_upsert(
        workspace=workspace,
        rows=[row("c1", "o1"), row("c-foreign", "o2"), row("c1", "o1")],
        actor=actor,
    )
    assert len(result.created) == 1
    assert len(result.updated) == 1
    assert [e.index for e in result.errors] == [1]
    assert Order.objects.count() == 1


def test_bulk_limit(workspace, actor, settings):
    settings.ASCOLTO_BULK_LIMIT = 3
    rows = [services.CustomerInput(external_id=f"c{i}") for i in range(4)]
    with pytest.raises(ValidationFailed, match="At most 3"):
        services.customers_bulk_upsert(workspace=workspace, rows=rows, actor=actor)
    assert Customer.objects.count() == 0
