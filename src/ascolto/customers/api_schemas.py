"""Request and response shapes of the Customer 360 API.

String limits match the model columns, so input that would not fit is refused with a 422 that
names the field instead of failing at the database. Choice types mirror the model choices (a
test keeps them in step).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from ninja import Schema
from pydantic import AfterValidator, Field, SkipValidation

from ascolto.core.api import Id, JsonObject, Timestamp, no_nul
from ascolto.core.schemas import InSchema
from ascolto.customers import selectors
from ascolto.customers.models import Customer

# --- Field types ----------------------------------------------------------------------------

Name = Annotated[str, Field(max_length=200), AfterValidator(no_nul)]
RequiredName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]
ExternalId = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)]
Locale = Annotated[str, Field(max_length=8), AfterValidator(no_nul)]
TimezoneName = Annotated[
    str, Field(max_length=64, examples=["Europe/Rome"]), AfterValidator(no_nul)
]
IdentityValue = Annotated[str, Field(min_length=1, max_length=254), AfterValidator(no_nul)]
Currency = Annotated[
    str, Field(min_length=3, max_length=3, examples=["EUR"]), AfterValidator(no_nul)
]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, examples=["49.90"])]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
# Amounts go out as strings with exactly two decimals (SQLite's SUM drops the scale).
MoneyOut = Annotated[Decimal, AfterValidator(lambda d: d.quantize(Decimal("0.01")))]
QuantityOut = Annotated[Decimal, AfterValidator(lambda d: d.quantize(Decimal("0.001")))]
Source = Annotated[str, Field(max_length=120), AfterValidator(no_nul)]

IdentityKind = Literal["email", "phone", "whatsapp", "messenger", "instagram", "web", "external"]
ValueTierChoice = Literal["platinum", "gold", "silver", "bronze", ""]
OrderStatus = Literal[
    "pending", "paid", "shipped", "delayed", "delivered", "cancelled", "returned", "refunded"
]
ConsentPurposeChoice = Literal["service", "marketing", "surveys"]
ConsentChannelChoice = Literal["any", "email", "sms", "whatsapp", "messenger", "phone", "web"]

BULK_LIMIT: int = settings.ASCOLTO_BULK_LIMIT


# --- Organizations --------------------------------------------------------------------------


class OrganizationIn(InSchema):
    name: RequiredName
    domain: Name = ""
    external_id: ExternalId | None = Field(
        default=None, description="When given, an organization with this id is updated."
    )


class OrganizationOut(Schema):
    id: int
    name: str
    domain: str
    external_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class OrganizationRef(Schema):
    id: int
    name: str


# --- Customers and identities ---------------------------------------------------------------


class IdentityRef(InSchema):
    kind: IdentityKind
    value: IdentityValue = Field(examples=["dana@example.com"])


class IdentityIn(IdentityRef):
    verified: bool = False


class IdentityOut(Schema):
    id: int
    kind: str
    value: str
    verified: bool
    is_primary: bool
    created_at: dt.datetime


class CustomerIn(InSchema):
    name: Name = ""
    external_id: ExternalId | None = None
    locale: Locale = ""
    timezone: TimezoneName = ""
    birthday: dt.date | None = None
    value_tier: ValueTierChoice = ""
    attributes: JsonObject = Field(default_factory=dict)
    organization_id: Id | None = None
    identities: list[IdentityRef] = Field(default_factory=list, max_length=50)


class CustomerPatch(InSchema):
    """Only the fields sent change; `null` clears the nullable ones. Attributes merge key by
    key, and an attribute set to null is removed."""

    name: Name = ""
    external_id: ExternalId | None = None
    locale: Locale = ""
    timezone: TimezoneName = ""
    birthday: dt.date | None = None
    value_tier: ValueTierChoice = ""
    attributes: JsonObject = Field(default_factory=dict)
    organization_id: Id | None = None


class CustomerOut(Schema):
    id: int
    external_id: str | None
    name: str
    locale: str
    timezone: str
    birthday: dt.date | None
    value_tier: str
    attributes: dict[str, Any]
    organization: OrganizationRef | None
    merged_into_id: int | None
    lifetime_spend: MoneyOut = Field(description="In the workspace's default currency.")
    orders_count: int
    last_order_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    identities: list[IdentityOut]

    @staticmethod
    def resolve_identities(obj: Customer) -> list[Any]:
        # Served from the prefetch cache when the caller prefetched "identities".
        return list(obj.identities.all())


class SpendOut(Schema):
    currency: str
    amount: MoneyOut
    orders: int


class CustomerDetailOut(CustomerOut):
    spend: list[SpendOut] = Field(description="Lifetime spend per currency, largest first.")

    @staticmethod
    def resolve_spend(obj: Customer) -> list[dict[str, Any]]:
        return [
            {"currency": currency, "amount": amount, "orders": n}
            for currency, amount, n in selectors.customer_spend(customer=obj)
        ]


class MergeIn(InSchema):
    duplicate_id: Id = Field(description="The customer absorbed into the one in the path.")


class MergeOut(Schema):
    id: int
    primary_id: int
    merged_customer_id: int
    moved: dict[str, Any]
    snapshot: dict[str, Any]
    actor_label: str
    created_at: dt.datetime


# --- Orders ---------------------------------------------------------------------------------


class OrderLineIn(InSchema):
    sku: Annotated[str, Field(max_length=100), AfterValidator(no_nul)] = ""
    name: Annotated[str, Field(min_length=1, max_length=300), AfterValidator(no_nul)]
    quantity: Quantity
    unit_price: Money


class OrderFields(InSchema):
    status: OrderStatus = "pending"
    placed_at: Timestamp
    delivered_at: Timestamp | None = None
    promised_at: Timestamp | None = None
    total: Money
    currency: Currency
    metadata: JsonObject = Field(default_factory=dict)
    lines: list[OrderLineIn] | None = Field(
        default=None, max_length=500, description="When given, replaces the order's lines."
    )


class OrderUpsertIn(OrderFields):
    customer_id: Id


class OrderLineOut(Schema):
    sku: str
    name: str
    quantity: QuantityOut
    unit_price: MoneyOut
    line_total: MoneyOut


class OrderOut(Schema):
    id: int
    external_id: str
    customer_id: int
    status: str
    placed_at: dt.datetime
    delivered_at: dt.datetime | None
    promised_at: dt.datetime | None
    total: MoneyOut
    currency: str
    metadata: dict[str, Any]
    lines: list[OrderLineOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


# --- Consent, timeline, audit ---------------------------------------------------------------


class ConsentIn(InSchema):
    purpose: ConsentPurposeChoice
    channel: ConsentChannelChoice
    granted: bool
    source: Source = ""
    recorded_at: Timestamp | None = Field(
        default=None, description="When the customer decided; defaults to now."
    )


class ConsentOut(Schema):
    purpose: str
    channel: str
    granted: bool
    source: str
    recorded_at: dt.datetime


class ConsentChangeOut(ConsentOut):
    id: int
    actor_label: str


class TimelineEntryOut(Schema):
    key: str
    kind: str
    kind_label: str
    occurred_at: dt.datetime
    title: str
    body: str
    data: dict[str, Any]
    source_type: str
    source_id: str


class AuditEntryOut(Schema):
    id: int
    created_at: dt.datetime
    action: str
    object_type: str
    object_id: str
    customer_id: int | None
    actor_label: str
    actor_user_id: int | None
    actor_token_id: int | None
    changes: dict[str, Any]


# --- Bulk -----------------------------------------------------------------------------------


class CustomerBulkItem(InSchema):
    """A customer keyed by external id; fields left out (or null) are not changed."""

    external_id: ExternalId
    name: Name | None = None
    locale: Locale | None = None
    timezone: TimezoneName | None = None
    birthday: dt.date | None = None
    value_tier: ValueTierChoice | None = None
    attributes: JsonObject | None = None
    identities: list[IdentityRef] = Field(default_factory=list, max_length=50)


class OrderBulkItem(OrderFields):
    customer_external_id: ExternalId
    external_id: ExternalId


# Items are validated one by one (a bad row is reported, the others are written), so the body
# only checks that `items` is a list of at most BULK_LIMIT entries.
class CustomersBulkIn(InSchema):
    items: Annotated[list[SkipValidation[CustomerBulkItem]], Field(max_length=BULK_LIMIT)]


class OrdersBulkIn(InSchema):
    items: Annotated[list[SkipValidation[OrderBulkItem]], Field(max_length=BULK_LIMIT)]


class BulkErrorOut(Schema):
    index: int = Field(description="Position of the item in `items`, from 0.")
    detail: str
    errors: dict[str, list[str]]


class BulkOut(Schema):
    created: list[int] = Field(description="Ids of the records created, in request order.")
    updated: list[int] = Field(description="Ids of the records that existed, in request order.")
    errors: list[BulkErrorOut]
