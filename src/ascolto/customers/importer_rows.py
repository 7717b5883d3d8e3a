"""Parsing and validation of import rows: pure functions with no database access.

Nothing here queries the database, so the same code validates rows in the importing process or
in worker processes (see `importer.validated_chunks`). Checks that need the database (an email
that belongs to another customer, an order whose customer does not exist) run set-based in
`importer_sql`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import AttributeDefinition, Identity, Order, ValueTier
from ascolto.customers.normalize import normalize_phone, validate_attributes
from ascolto.customers.services.orders import OrderInput, OrderLineInput, validate_order_input

CUSTOMER_COLUMNS = (
    "external_id",
    "name",
    "email",
    "phone",
    "whatsapp",
    "locale",
    "timezone",
    "birthday",
    "value_tier",
    "attributes",
)
ORDER_COLUMNS = (
    "external_id",
    "customer_external_id",
    "status",
    "placed_at",
    "delivered_at",
    "promised_at",
    "total",
    "currency",
    "metadata",
    "lines",
)
REQUIRED_COLUMNS = {
    "customers": ("external_id",),
    "orders": ("external_id", "customer_external_id", "placed_at", "total", "currency"),
}
ATTRIBUTE_PREFIX = "attr."
IDENTITY_COLUMNS = {
    "email": Identity.Kind.EMAIL.value,
    "phone": Identity.Kind.PHONE.value,
    "whatsapp": Identity.Kind.WHATSAPP.value,
}
# Extra identity kinds a caller may pass as {"identities": {"web": "..."}} (used by demo data).
IDENTITY_KINDS = frozenset(Identity.Kind.values)
VALUE_TIERS = frozenset(ValueTier.values)
ORDER_STATUSES = frozenset(Order.Status.values)
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?$")


class ImportFormatError(Exception):
    """The file as a whole cannot be imported (unknown columns, not CSV / JSON Lines...)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one row. `row` is the line of the file where the record starts."""

    row: int
    field: str
    message: str
    external_id: str = ""


class CustomerRecord(NamedTuple):
    """A validated customer row. None means "not given: leave the stored value unchanged"."""

    row: int
    external_id: str
    name: str | None
    locale: str | None
    timezone: str | None
    birthday: dt.date | None
    value_tier: str | None
    attributes: dict[str, Any] | None
    identities: tuple[tuple[str, str], ...]


class LineRecord(NamedTuple):
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal


class OrderRecord(NamedTuple):
    """A validated order row: the full state of the order, as `order_upsert` takes it."""

    row: int
    external_id: str
    customer_external_id: str
    status: str
    placed_at: dt.datetime
    delivered_at: dt.datetime | None
    promised_at: dt.datetime | None
    total: Decimal
    currency: str
    metadata: dict[str, Any]
    lines: tuple[LineRecord, ...] | None


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """A picklable copy of an AttributeDefinition, for validation in worker processes."""

    key: str
    type: str
    choices: tuple[Any, ...] = ()

    @classmethod
    def of(cls, definition: AttributeDefinition) -> AttributeSpec:
        return cls(definition.key, definition.type, tuple(definition.choices or ()))

    def definition(self) -> AttributeDefinition:
        return AttributeDefinition(key=self.key, type=self.type, choices=list(self.choices))


class _RowInvalid(Exception):
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


class _CachedDomainEmailValidator(EmailValidator):
    """Django's email validator with the domain check memoised.

    Whether a domain part is valid depends on the domain string alone, and a file repeats a few
    domains many times; the regex is the costly part of validating an address.
    """

    def validate_domain_part(self, domain_part: str) -> bool:
        return _domain_ok(domain_part)


_plain_email_validator = EmailValidator()


@functools.lru_cache(maxsize=8192)
def _domain_ok(domain_part: str) -> bool:
    return bool(_plain_email_validator.validate_domain_part(domain_part))


_validate_email = _CachedDomainEmailValidator()


def normalize_email(text: str) -> str:
    """The email branch of `normalize.normalize_identity`, for hot loops.

    Same result and same error for every input (a property test pins the two together); it
    skips the per-call lookup of the identity kinds, which costs more than validating.
    """
    email = text.strip().lower()
    if not email:
        raise ValidationFailed("An identity needs a value.", field_errors={"value": ["Required."]})
    try:
        _validate_email(email)
    except ValidationError:
        raise ValidationFailed(
            f"{text.strip()!r} is not an email address.",
            field_errors={"value": ["Enter a valid email address."]},
        ) from None
    return email


def normalize_handle(kind: str, value: str) -> str:
    if kind == Identity.Kind.EMAIL:
        return normalize_email(value)
    if kind in (Identity.Kind.PHONE, Identity.Kind.WHATSAPP):
        return normalize_phone(value)
    text = value.strip()
    if not text:
        raise ValidationFailed("An identity needs a value.")
    if len(text) > 254:
        raise ValidationFailed("An identity value is at most 254 characters.")
    return text


@functools.lru_cache(maxsize=1024)
def _timezone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _text(value: Any) -> str | None:
    """A cell as text; empty cells and JSON nulls are "not given"."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise TypeError


def _json_value(value: Any, *, expect: type, what: str) -> Any:
    """A JSON cell: CSV gives text to decode, JSON Lines gives the value itself."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"Not valid JSON: expected {what}.") from None
    if not isinstance(value, expect):
        raise ValueError(f"Expected {what}.")
    return value


def _datetime(value: Any, field: str, errors: list[tuple[str, str]]) -> dt.datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        errors.append((field, "Expected a date and time with a time zone (ISO 8601)."))
        return None
    text = value.strip()
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        errors.append((field, f"{text!r} is not a date and time (ISO 8601, with a time zone)."))
        return None
    if when.tzinfo is None:
        errors.append((field, f"{text!r} has no time zone; add one, e.g. +00:00 or Z."))
        return None
    return when.astimezone(dt.UTC)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidOperation
    number = Decimal(value.strip() if isinstance(value, str) else str(value))
    if not number.is_finite():
        raise InvalidOperation
    return number


class RowValidator:
    """Turns raw rows (a mapping of column to cell) into validated records or row errors."""

    def __init__(self, attribute_specs: Iterable[AttributeSpec]) -> None:
        self.definitions = {spec.key: spec.definition() for spec in attribute_specs}

    # -- customers -----------------------------------------------------------------------------
    def customer(self, row: int, raw: Mapping[str, Any]) -> CustomerRecord | list[RowError]:
        errors: list[tuple[str, str]] = []
        external_id = self._external_id(raw.get("external_id"), errors)
        name = self._short_text(raw, "name", 200, errors)
        locale = self._short_text(raw, "locale", 8, errors)
        if locale is not None and not LOCALE_RE.match(locale):
            errors.append(("locale", f"{locale!r} is not a language code such as it, he or en."))
        timezone_name = self._short_text(raw, "timezone", 64, errors)
        if timezone_name is not None and not _timezone_ok(timezone_name):
            errors.append(
                (
                    "timezone",
                    f"Unknown time zone {timezone_name!r}; use an IANA name such as Europe/Rome.",
                )
            )
        birthday = self._date(raw, "birthday", errors)
        value_tier = self._short_text(raw, "value_tier", 10, errors)
        if value_tier is not None:
            value_tier = value_tier.lower()
            if value_tier not in VALUE_TIERS:
                errors.append(
                    (
                        "value_tier",
                        f"Choose one of: {', '.join(sorted(v for v in VALUE_TIERS if v))}.",
                    )
                )
        attributes = self._attributes(raw, errors)
        identities = self._identities(raw, errors)
        if errors:
            return [RowError(row, f, m, external_id or "") for f, m in errors]
        assert external_id is not None
        return CustomerRecord(
            row,
            external_id,
            name,
            locale,
            timezone_name,
            birthday,
            value_tier,
            attributes,
            identities,
        )

    def _external_id(self, value: Any, errors: list[tuple[str, str]]) -> str | None:
        try:
            text = _text(value)
        except TypeError:
            text = None
        if text is None:
            errors.append(("external_id", "Required."))
            return None
        if len(text) > 100:
            errors.append(("external_id", "At most 100 characters."))
            return None
        return text

    def _short_text(
        self, raw: Mapping[str, Any], key: str, limit: int, errors: list[tuple[str, str]]
    ) -> str | None:
        try:
            text = _text(raw.get(key))
        except TypeError:
            errors.append((key, "Expected text."))
            return None
        if text is not None and len(text) > limit:
            errors.append((key, f"At most {limit} characters."))
            return None
        return text

    def _date(
        self, raw: Mapping[str, Any], key: str, errors: list[tuple[str, str]]
    ) -> dt.date | None:
        try:
            text = _text(raw.get(key))
        except TypeError:
            errors.append((key, "Expected a date (YYYY-MM-DD)."))
            return None
        if text is None:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            errors.append((key, f"{text!r} is not a date (YYYY-MM-DD)."))
            return None

    def _attributes(
        self, raw: Mapping[str, Any], errors: list[tuple[str, str]]
    ) -> dict[str, Any] | None:
        given: dict[str, Any] = {}
        blob = raw.get("attributes")
        if blob is not None and not (isinstance(blob, str) and not blob.strip()):
            try:
                given.update(_json_value(blob, expect=dict, what="a JSON object"))
            except ValueError as exc:
                errors.append(("attributes", str(exc)))
                return None
        for column, value in raw.items():
            if column.startswith(ATTRIBUTE_PREFIX):
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                given[column[len(ATTRIBUTE_PREFIX) :]] = (
                    value.strip() if isinstance(value, str) else value
                )
        if not given:
            return None
        try:
            return validate_attributes(given, self.definitions)
        except ValidationFailed as exc:
            for key, messages in exc.field_errors.items():
                errors.extend((key, message) for message in messages)
            return None

    def _identities(
        self, raw: Mapping[str, Any], errors: list[tuple[str, str]]
    ) -> tuple[tuple[str, str], ...]:
        pairs: list[tuple[str, str]] = []
        seen_raw: dict[str, str] = {}
        for column, kind in IDENTITY_COLUMNS.items():
            self._identity(raw.get(column), column, kind, pairs, seen_raw, errors)
        extra = raw.get("identities")
        if isinstance(extra, Mapping):
            for kind, value in extra.items():
                if kind not in IDENTITY_KINDS:
                    errors.append((f"identities.{kind}", "Unknown identity kind."))
                    continue
                self._identity(value, f"identities.{kind}", kind, pairs, seen_raw, errors)
        return tuple(pairs)

    def _identity(
        self,
        value: Any,
        field: str,
        kind: str,
        pairs: list[tuple[str, str]],
        seen_raw: dict[str, str],
        errors: list[tuple[str, str]],
    ) -> None:
        try:
            text = _text(value)
        except TypeError:
            errors.append((field, "Expected text."))
            return
        if text is None:
            return
        # Phone and WhatsApp are often the same number: normalise it once.
        cache_key = f"{'phone' if kind in ('phone', 'whatsapp') else kind}:{text}"
        normalized = seen_raw.get(cache_key)
        if normalized is None:
            try:
                normalized = normalize_handle(kind, text)
            except ValidationFailed as exc:
                errors.append((field, exc.message))
                return
            seen_raw[cache_key] = normalized
        if (kind, normalized) not in pairs:
            pairs.append((kind, normalized))

    # -- orders --------------------------------------------------------------------------------
    def order(self, row: int, raw: Mapping[str, Any]) -> OrderRecord | list[RowError]:
        errors: list[tuple[str, str]] = []
        external_id = self._external_id(raw.get("external_id"), errors)
        ref_errors: list[tuple[str, str]] = []
        customer_ref = self._external_id(raw.get("customer_external_id"), ref_errors)
        errors.extend(("customer_external_id", message) for _, message in ref_errors)
        status = self._short_text(raw, "status", 12, errors)
        status = (status or Order.Status.PENDING).lower()
        placed_at = _datetime(raw.get("placed_at"), "placed_at", errors)
        if placed_at is None and not any(f == "placed_at" for f, _ in errors):
            errors.append(("placed_at", "Required: a date and time with a time zone."))
        delivered_at = _datetime(raw.get("delivered_at"), "delivered_at", errors)
        promised_at = _datetime(raw.get("promised_at"), "promised_at", errors)
        total = self._amount(raw.get("total"), "total", errors)
        currency = self._short_text(raw, "currency", 3, errors) or ""
        metadata: dict[str, Any] = {}
        if raw.get("metadata") not in (None, ""):
            try:
                metadata = _json_value(raw.get("metadata"), expect=dict, what="a JSON object")
            except ValueError as exc:
                errors.append(("metadata", str(exc)))
        lines = self._lines(raw.get("lines"), errors)
        if errors:
            return [RowError(row, f, m, external_id or "") for f, m in errors]
        assert external_id is not None
        assert placed_at is not None
        assert total is not None
        assert customer_ref is not None
        if lines is not None or not _passes_order_rules(status, currency, total):
            # The services' own check gives the exact messages; the fast test above only ever
            # lets through what it would accept (a property test pins the two together).
            problems = _order_rule_errors(
                external_id, placed_at, total, currency, status, delivered_at, promised_at, lines
            )
            if problems:
                return [RowError(row, key, message, external_id) for key, message in problems]
        return OrderRecord(
            row,
            external_id,
            customer_ref,
            status,
            placed_at,
            delivered_at,
            promised_at,
            total.quantize(Decimal("0.01")),
            currency.upper(),
            metadata,
            lines,
        )

    def _amount(self, value: Any, field: str, errors: list[tuple[str, str]]) -> Decimal | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append((field, "Required: an amount such as 49.90."))
            return None
        try:
            return _decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            errors.append((field, f"{value!r} is not an amount (use a dot: 49.90)."))
            return None

    def _lines(self, value: Any, errors: list[tuple[str, str]]) -> tuple[LineRecord, ...] | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            items = _json_value(value, expect=list, what="a JSON array of lines")
        except ValueError as exc:
            errors.append(("lines", str(exc)))
            return None
        lines: list[LineRecord] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors.append(
                    (f"lines.{index}", "Expected an object with name, quantity and unit_price.")
                )
                continue
            try:
                quantity = _decimal(item.get("quantity", 1))
                unit_price = _decimal(item.get("unit_price"))
            except (InvalidOperation, TypeError, ValueError):
                errors.append((f"lines.{index}", "quantity and unit_price must be numbers."))
                continue
            name = str(item.get("name") or "").strip()
            sku = str(item.get("sku") or "").strip()
            if len(name) > 300 or len(sku) > 100:
                errors.append((f"lines.{index}", "name is at most 300 and sku 100 characters."))
                continue
            if abs(quantity) >= Decimal("1e9") or abs(unit_price) >= Decimal("1e10"):
                errors.append((f"lines.{index}", "quantity or unit_price is too large."))
                continue
            lines.append(
                LineRecord(
                    sku,
                    name,
                    quantity.quantize(Decimal("0.001")),
                    unit_price.quantize(Decimal("0.01")),
                )
            )
        return tuple(lines)


_TOTAL_LIMIT = Decimal("1e10")


def _passes_order_rules(status: str, currency: str, total: Decimal) -> bool:
    """A sufficient condition for `validate_order_input` to accept an order without lines,
    given what `RowValidator.order` has already parsed (ids, time-zone-aware datetimes)."""
    return (
        status in ORDER_STATUSES
        and len(currency) == 3
        and currency.isalpha()
        and total.is_finite()
        and Decimal(0) <= total < _TOTAL_LIMIT
    )


def _order_rule_errors(
    external_id: str,
    placed_at: dt.datetime,
    total: Decimal,
    currency: str,
    status: str,
    delivered_at: dt.datetime | None,
    promised_at: dt.datetime | None,
    lines: tuple[LineRecord, ...] | None,
) -> list[tuple[str, str]]:
    data = OrderInput(
        external_id=external_id,
        placed_at=placed_at,
        total=total,
        currency=currency,
        status=status,
        delivered_at=delivered_at,
        promised_at=promised_at,
        lines=None
        if lines is None
        else [
            OrderLineInput(line.name, line.quantity, line.unit_price, line.sku) for line in lines
        ],
    )
    try:
        validate_order_input(data)
    except ValidationFailed as exc:
        return [
            (key, message) for key, messages in exc.field_errors.items() for message in messages
        ]
    return []


def check_columns(kind: str, columns: Iterable[str]) -> list[str]:
    """The header's columns, checked: unknown columns and missing required ones are refused.

    Raises ImportFormatError naming them, so a typo never silently drops a column.
    """
    names = [c.strip() for c in columns]
    known = set(CUSTOMER_COLUMNS if kind == "customers" else ORDER_COLUMNS)
    unknown = [
        c
        for c in names
        if c not in known and not (kind == "customers" and c.startswith(ATTRIBUTE_PREFIX))
    ]
    if unknown:
        raise ImportFormatError(
            f"Unknown column(s): {', '.join(unknown)}. Known columns: "
            f"{', '.join(sorted(known))}" + (", attr.<key>" if kind == "customers" else "") + "."
        )
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in names]
    if missing:
        raise ImportFormatError(f"Missing required column(s): {', '.join(missing)}.")
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise ImportFormatError(f"Duplicated column(s): {', '.join(duplicated)}.")
    return names
