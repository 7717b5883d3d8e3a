"""Row validation of the import: the fast checks agree with the services' own rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascolto.core.errors import ValidationFailed
from ascolto.customers.importer_rows import (
    ImportFormatError,
    OrderRecord,
    RowError,
    RowValidator,
    check_columns,
    normalize_email,
)
from ascolto.customers.normalize import normalize_identity
from ascolto.customers.services.orders import OrderInput, validate_order_input

emails = st.one_of(
    st.emails(),
    st.text(alphabet='abcXYZ.@-_+ 1é"', max_size=30),
    st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=12), st.text(max_size=12)),
)


@settings(max_examples=400, deadline=None)
@given(emails)
def test_normalize_email_matches_normalize_identity(text):
    try:
        expected: str | None = normalize_identity("email", text)
    except ValidationFailed:
        expected = None
    try:
        got: str | None = normalize_email(text)
    except ValidationFailed:
        got = None
    assert got == expected


statuses = st.sampled_from(["delivered", "pending", "shipped", "lost", "DELIVERED", ""])
currencies = st.sampled_from(["EUR", "eur", "E1R", "EURO", "", "ils"])
amounts = st.one_of(
    st.decimals(min_value=-10, max_value=Decimal("2e10"), places=2, allow_nan=False),
    st.sampled_from(["9999999999.99", "10000000000", "-0.01", "0", "1e3", "abc", ""]),
)


@settings(max_examples=400, deadline=None)
@given(status=statuses, currency=currencies, total=amounts)
def test_order_rows_pass_exactly_when_the_service_accepts_them(status, currency, total):
    raw = {
        "external_id": "O1",
        "customer_external_id": "C1",
        "status": status,
        "placed_at": "2026-01-02T03:04:05+01:00",
        "total": str(total),
        "currency": currency,
    }
    outcome = RowValidator([]).order(2, raw)
    try:
        validate_order_input(
            OrderInput(
                external_id="O1",
                placed_at=dt.datetime(2026, 1, 2, 2, 4, 5, tzinfo=dt.UTC),
                total=Decimal(str(total)),
                currency=currency,
                status=(status or "pending").lower(),
            )
        )
        service_accepts = True
    except (ValidationFailed, ArithmeticError, ValueError):
        service_accepts = False
    assert isinstance(outcome, OrderRecord) == service_accepts


def test_order_row_errors_name_their_fields():
    outcome = RowValidator([]).order(
        7,
        {
            "external_id": "O1",
            "customer_external_id": "",
            "placed_at": "2026-02-30T10:00:00Z",
            "total": "12,50",
            "currency": "EUR",
            "lines": '[{"name": "Moka", "quantity": 0, "unit_price": "10"}]',
        },
    )
    assert isinstance(outcome, list)
    assert {e.field for e in outcome} == {"customer_external_id", "placed_at", "total"}
    assert all(isinstance(e, RowError) and e.row == 7 for e in outcome)


def test_line_rules_come_from_the_order_service():
    outcome = RowValidator([]).order(
        3,
        {
            "external_id": "O1",
            "customer_external_id": "C1",
            "placed_at": "2026-01-01T10:00:00Z",
            "total": "10",
            "currency": "EUR",
            "lines": [{"name": "Moka", "quantity": 0, "unit_price": "10"}],
        },
    )
    assert isinstance(outcome, list)
    assert [(e.field, e.message) for e in outcome] == [("lines.0.quantity", "Must be positive.")]


def test_customer_row_normalises_handles_once():
    outcome = RowValidator([]).customer(
        2,
        {
            "external_id": " C1 ",
            "email": " Dana@Example.COM ",
            "phone": "+972 50-123-4567",
            "whatsapp": "+972501234567",
            "locale": "he",
            "value_tier": "Gold",
        },
    )
    assert not isinstance(outcome, list)
    assert outcome.external_id == "C1"
    assert outcome.value_tier == "gold"
    assert outcome.identities == (
        ("email", "dana@example.com"),
        ("phone", "+972501234567"),
        ("whatsapp", "+972501234567"),
    )


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["external_id", "emial"], "Unknown column(s): emial"),
        (["name"], "Missing required column(s): external_id"),
        (["external_id", "name", "name"], "Duplicated column(s): name"),
    ],
)
def test_header_problems_stop_the_import(columns, message):
    with pytest.raises(ImportFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_columns("customers", columns)


def test_attribute_columns_are_allowed_for_customers_only():
    assert check_columns("customers", ["external_id", "attr.vip"]) == ["external_id", "attr.vip"]
    with pytest.raises(ImportFormatError):
        check_columns(
            "orders",
            ["external_id", "customer_external_id", "placed_at", "total", "currency", "attr.x"],
        )
