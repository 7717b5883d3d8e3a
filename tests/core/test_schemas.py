"""The base of request bodies: unknown fields refused at every level, each value validated once."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, ValidationError

from ascolto.core.schemas import InSchema

seen: list[str] = []


def _count(value: str) -> str:
    seen.append(value)
    return value


class ContactIn(InSchema):
    kind: str
    value: Annotated[str, AfterValidator(_count)]


class BodyIn(InSchema):
    text: str
    contact: ContactIn


def test_a_body_is_validated_once_into_its_values() -> None:
    seen.clear()
    body = BodyIn.model_validate({"text": "ciao", "contact": {"kind": "email", "value": "a@b.it"}})
    assert body.contact.value == "a@b.it"
    assert seen == ["a@b.it"]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"text": "ciao", "contact": {"kind": "email", "value": "a@b.it"}, "x": 1}, ("x",)),
        (
            {"text": "ciao", "contact": {"kind": "email", "value": "a@b.it", "extra": True}},
            ("contact", "extra"),
        ),
        ({"text": 5, "contact": {"kind": "email", "value": "a@b.it"}}, ("text",)),
        ({"text": "ciao"}, ("contact",)),
    ],
)
def test_unknown_and_wrong_fields_are_refused_where_they_are(payload, where) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as raised:
        BodyIn.model_validate(payload)
    assert [error["loc"] for error in raised.value.errors()] == [where]
