import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto.core.errors import ValidationFailed
from ascolto.customers.normalize import normalize_identity


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("email", "  Luca.Verdi@Example.IT ", "luca.verdi@example.it"),
        ("phone", "+39 06 1234 5678", "+390612345678"),
        ("phone", "0039 333 123 4567", "+393331234567"),
        ("whatsapp", "whatsapp:+972501234567", "+972501234567"),
        ("phone", "+1 (415) 555-0100", "+14155550100"),
        ("web", "  v-123 ", "v-123"),
    ],
)
def test_identities_are_normalised(kind, raw, expected):
    assert normalize_identity(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("email", "not-an-email"),
        ("phone", "12"),
        ("phone", "call me"),
        ("fax", "x"),
        ("web", "   "),
    ],
)
def test_bad_identities_are_refused(kind, raw):
    with pytest.raises(ValidationFailed):
        normalize_identity(kind, raw)


def test_national_number_needs_a_region():
    with pytest.raises(ValidationFailed):
        normalize_identity("phone", "06 1234 5678")
    assert normalize_identity("phone", "06 1234 5678", default_region="IT") == "+390612345678"


@given(st.text(max_size=60))
def test_phone_normalisation_never_crashes_and_is_idempotent(raw):
    try:
        once = normalize_identity("phone", raw)
    except ValidationFailed:
        return
    assert once.startswith("+")
    assert normalize_identity("phone", once) == once


@given(st.emails())
def test_email_normalisation_is_idempotent(raw):
    try:
        once = normalize_identity("email", raw)
    except ValidationFailed:
        return
    assert normalize_identity("email", once) == once == once.lower()
