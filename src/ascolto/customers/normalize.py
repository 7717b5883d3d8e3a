"""Normalisation and validation of customer input: identity handles and typed attributes."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import AttributeDefinition, Identity

PHONE_KINDS = {Identity.Kind.PHONE, Identity.Kind.WHATSAPP}


def normalize_identity(kind: str, value: str, *, default_region: str | None = None) -> str:
    """Return the canonical form of a handle: lower-cased email, E.164 phone, trimmed id.

    Raises ValidationFailed with a message naming the problem.
    """
    if isinstance(value, str):
        return _canonical(str(kind), value, default_region)
    return _normalize(kind, value, default_region)


# The same handles come back with every message of a conversation (and each is normalised
# by the web process that accepts the message, then by the worker that stores it): validating
# an email address costs ~15-30 µs, a phone number more. Only handles that normalise are kept
# (a refused one raises, and lru_cache keeps no exception).
@functools.lru_cache(maxsize=8192)
def _canonical(kind: str, value: str, default_region: str | None) -> str:
    return _normalize(kind, value, default_region)


def _normalize(kind: str, value: str, default_region: str | None) -> str:
    if kind not in Identity.Kind.values:
        raise ValidationFailed(
            f"Unknown identity kind {kind!r}.",
            field_errors={"kind": [f"Choose one of: {', '.join(Identity.Kind.values)}."]},
        )
    text = (value or "").strip()
    if not text:
        raise ValidationFailed("An identity needs a value.", field_errors={"value": ["Required."]})
    if kind == Identity.Kind.EMAIL:
        email = text.lower()
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationFailed(
                f"{text!r} is not an email address.",
                field_errors={"value": ["Enter a valid email address."]},
            ) from None
        return email
    if kind in PHONE_KINDS:
        return normalize_phone(text, default_region=default_region)
    if len(text) > 254:
        raise ValidationFailed(
            "An identity value is at most 254 characters.",
            field_errors={"value": ["Too long (254 characters at most)."]},
        )
    return text


def normalize_phone(text: str, *, default_region: str | None = None) -> str:
    candidate = text.removeprefix("whatsapp:").strip()
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(
            candidate, None if candidate.startswith("+") else default_region
        )
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ValidationFailed(
            f"{text!r} is not a phone number in international form.",
            field_errors={
                "value": ["Enter the number with its country code, e.g. +39 06 1234 5678."]
            },
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def validate_attributes(
    attributes: dict[str, Any], definitions: dict[str, AttributeDefinition]
) -> dict[str, Any]:
    """Check each attribute against its workspace definition and return JSON-ready values.

    A null value removes the attribute. Unknown keys are refused, so a typo never creates a
    silent new field.
    """
    if not isinstance(attributes, dict):
        raise ValidationFailed(
            "Attributes must be an object.", field_errors={"attributes": ["Expected an object."]}
        )
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in attributes.items():
        definition = definitions.get(key)
        if definition is None:
            errors[f"attributes.{key}"] = ["Unknown attribute: define it in the workspace first."]
            continue
        if value is None:
            clean[key] = None
            continue
        try:
            clean[key] = _coerce(definition, value)
        except (ValueError, TypeError, InvalidOperation):
            errors[f"attributes.{key}"] = [f"Expected a {definition.type} value."]
    if errors:
        raise ValidationFailed("Some attributes are not valid.", field_errors=errors)
    return clean


def _coerce(definition: AttributeDefinition, value: Any) -> Any:
    kind = definition.type
    if kind == AttributeDefinition.Type.TEXT:
        if not isinstance(value, str | int | float):
            raise TypeError
        return str(value)[:2000]
    if kind == AttributeDefinition.Type.NUMBER:
        if isinstance(value, bool):
            raise TypeError
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError
        return float(number) if number != number.to_integral_value() else int(number)
    if kind == AttributeDefinition.Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "yes", "no", "1", "0"}:
            return value.lower() in {"true", "yes", "1"}
        raise ValueError
    if kind == AttributeDefinition.Type.DATE:
        return dt.date.fromisoformat(str(value)).isoformat()
    if kind == AttributeDefinition.Type.CHOICE:
        if str(value) not in [str(c) for c in definition.choices]:
            raise ValueError
        return str(value)
    raise ValueError
