"""Customer 360 REST operations: one function per operation, each thin.

Parse (ninja schemas), authorize (`require`), call one service or selector, serialise. Writes
run in `transaction.atomic`, so a failure leaves nothing half-written.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from ascolto.core.api import (
    Cursor,
    Id,
    Limit,
    PageOut,
    SearchTerm,
    api_auth,
    page_out,
    require,
    validate_items,
)
from ascolto.core.audit import audit_entries
from ascolto.customers import api_support, selectors, services
from ascolto.customers.api_schemas import (
    AuditEntryOut,
    BulkOut,
    ConsentChangeOut,
    ConsentIn,
    ConsentOut,
    CustomerBulkItem,
    CustomerDetailOut,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    CustomersBulkIn,
    ExternalId,
    IdentityIn,
    IdentityOut,
    MergeIn,
    MergeOut,
    OrderBulkItem,
    OrderOut,
    OrdersBulkIn,
    OrderStatus,
    OrderUpsertIn,
    OrganizationIn,
    OrganizationOut,
    TimelineEntryOut,
    ValueTierChoice,
)
from ascolto.customers.models import Organization

router = Router(auth=api_auth)

CUSTOMERS, IDENTITIES, ORGANIZATIONS, ORDERS, CONSENT = (
    "customers",
    "identities",
    "organizations",
    "orders",
    "consent",
)


class PageParams(Schema):
    cursor: Cursor | None = None
    limit: Limit = 50


class CustomerFilters(PageParams):
    search: SearchTerm = ""
    value_tier: ValueTierChoice | None = None
    organization_id: Id | None = None
    has_orders: bool | None = None


class OrderFilters(PageParams):
    status: OrderStatus | None = None


# --- Customers ------------------------------------------------------------------------------


@router.get("/customers", response=PageOut[CustomerOut], tags=[CUSTOMERS])
def list_customers(request: HttpRequest, filters: Query[CustomerFilters]) -> dict[str, Any]:
    """Customers, newest first. `search` matches name, external id and any identity."""
    ctx = require(request, "read")
    page = selectors.customer_list(
        workspace=ctx.workspace,
        search=filters.search,
        value_tier=filters.value_tier,
        organization_id=filters.organization_id,
        has_orders=filters.has_orders,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_out(api_support.with_identities(page.items), page.next_cursor)


@router.post("/customers", response={201: CustomerDetailOut}, tags=[CUSTOMERS])
def create_customer(request: HttpRequest, payload: CustomerIn) -> Status[Any]:
    """Create a customer with its identities (409 when a handle belongs to someone else)."""
    ctx = require(request, "write")
    with transaction.atomic():
        organization = (
            api_support.organization_ref(
                workspace=ctx.workspace, organization_id=payload.organization_id
            )
            if payload.organization_id is not None
            else None
        )
        customer = services.customer_create(
            workspace=ctx.workspace,
            actor=ctx.actor,
            name=payload.name,
            external_id=payload.external_id,
            locale=payload.locale,
            timezone_name=payload.timezone,
            birthday=payload.birthday,
            attributes=payload.attributes,
            value_tier=payload.value_tier,
            organization=organization,
            identities=[(i.kind, i.value) for i in payload.identities],
        )
    # Re-read: the services keep denormalised fields (spend, activity time) current in SQL.
    return Status(
        201,
        api_support.with_identities(
            [selectors.customer_get(workspace=ctx.workspace, customer_id=customer.pk)]
        )[0],
    )


@router.get("/customers/{int:customer_id}", response=CustomerDetailOut, tags=[CUSTOMERS])
def get_customer(request: HttpRequest, customer_id: Id) -> Any:
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    return api_support.with_identities([customer])[0]


@router.patch("/customers/{int:customer_id}", response=CustomerDetailOut, tags=[CUSTOMERS])
def update_customer(request: HttpRequest, customer_id: Id, payload: CustomerPatch) -> Any:
    """Change the fields sent; attributes merge key by key (null removes one)."""
    ctx = require(request, "write")
    fields = payload.model_dump(exclude_unset=True)
    with transaction.atomic():
        customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
        if "organization_id" in fields:
            organization_id = fields.pop("organization_id")
            fields["organization"] = (
                api_support.organization_ref(
                    workspace=ctx.workspace, organization_id=organization_id
                )
                if organization_id is not None
                else None
            )
        services.customer_update(customer=customer, actor=ctx.actor, **fields)
    return api_support.with_identities(
        [selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)]
    )[0]


@router.post("/customers/{int:customer_id}/merge", response={201: MergeOut}, tags=[CUSTOMERS])
def merge_customers(request: HttpRequest, customer_id: Id, payload: MergeIn) -> Status[Any]:
    """Merge `duplicate_id` into this customer: identities, orders, consent and timeline move."""
    ctx = require(request, "write")
    with transaction.atomic():
        primary = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
        duplicate = api_support.customer_ref(
            workspace=ctx.workspace, customer_id=payload.duplicate_id, field="duplicate_id"
        )
        merge = services.customer_merge(primary=primary, duplicate=duplicate, actor=ctx.actor)
    return Status(201, merge)


@router.get("/customers/{int:customer_id}/merges", response=list[MergeOut], tags=[CUSTOMERS])
def list_customer_merges(request: HttpRequest, customer_id: Id) -> Any:
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    return selectors.merges_of(customer=customer)


@router.get(
    "/customers/{int:customer_id}/timeline",
    response=PageOut[TimelineEntryOut],
    tags=[CUSTOMERS],
)
def customer_timeline(
    request: HttpRequest, customer_id: Id, params: Query[PageParams]
) -> dict[str, Any]:
    """Everything that happened with the customer, newest first."""
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    page = selectors.customer_timeline(customer=customer, cursor=params.cursor, limit=params.limit)
    return page_out(page.items, page.next_cursor)


@router.get("/customers/{int:customer_id}/audit", response=list[AuditEntryOut], tags=[CUSTOMERS])
def customer_audit_log(request: HttpRequest, customer_id: Id, limit: Limit = 100) -> Any:
    """Who changed what on this customer, newest first."""
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    return audit_entries(workspace=ctx.workspace, customer_id=customer.pk, limit=limit)


@router.post("/customers/bulk", response=BulkOut, tags=[CUSTOMERS])
def bulk_upsert_customers(request: HttpRequest, payload: CustomersBulkIn) -> dict[str, Any]:
    """Create or update up to 1,000 customers by external id.

    Each item stands alone: the valid ones are written, the others are listed in `errors` with
    their index. Sending the same items again updates them and creates nothing.
    """
    ctx = require(request, "write")
    valid, invalid = validate_items(payload.items, CustomerBulkItem)
    with transaction.atomic():
        result = services.customers_bulk_upsert(
            workspace=ctx.workspace,
            rows=[api_support.customer_row(item) for _, item in valid],
            actor=ctx.actor,
        )
    return api_support.bulk_out(result, positions=[i for i, _ in valid], invalid=invalid)


# --- Identities -----------------------------------------------------------------------------


@router.get(
    "/customers/{int:customer_id}/identities", response=list[IdentityOut], tags=[IDENTITIES]
)
def list_identities(request: HttpRequest, customer_id: Id) -> Any:
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    return selectors.identities_of(customer=customer)


@router.post(
    "/customers/{int:customer_id}/identities",
    response={200: IdentityOut, 201: IdentityOut},
    tags=[IDENTITIES],
)
def add_identity(request: HttpRequest, customer_id: Id, payload: IdentityIn) -> Status[Any]:
    """Attach a handle (normalised). 201 when added, 200 when the customer already had it."""
    ctx = require(request, "write")
    with transaction.atomic():
        customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
        started = timezone.now()
        identity = services.identity_add(
            customer=customer,
            kind=payload.kind,
            value=payload.value,
            verified=payload.verified,
            actor=ctx.actor,
        )
    return Status(201 if identity.created_at >= started else 200, identity)


@router.delete(
    "/customers/{int:customer_id}/identities/{int:identity_id}",
    response={204: None},
    tags=[IDENTITIES],
)
def remove_identity(request: HttpRequest, customer_id: Id, identity_id: Id) -> Status[Any]:
    ctx = require(request, "write")
    with transaction.atomic():
        customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
        identity = api_support.identity_get(customer=customer, identity_id=identity_id)
        services.identity_remove(identity=identity, actor=ctx.actor)
    return Status(204, None)


# --- Organizations --------------------------------------------------------------------------


@router.get("/organizations", response=PageOut[OrganizationOut], tags=[ORGANIZATIONS])
def list_organizations(request: HttpRequest, params: Query[PageParams]) -> dict[str, Any]:
    """Organizations by name."""
    ctx = require(request, "read")
    page = api_support.organization_page(
        workspace=ctx.workspace, cursor=params.cursor, limit=params.limit
    )
    return page_out(page.items, page.next_cursor)


@router.post(
    "/organizations",
    response={200: OrganizationOut, 201: OrganizationOut},
    tags=[ORGANIZATIONS],
)
def create_organization(request: HttpRequest, payload: OrganizationIn) -> Status[Any]:
    """Create an organization; with an `external_id` already known, update that one (200)."""
    ctx = require(request, "write")
    with transaction.atomic():
        existed = (
            payload.external_id is not None
            and Organization.objects.filter(
                workspace=ctx.workspace, external_id=payload.external_id
            ).exists()
        )
        organization = services.organization_upsert(
            workspace=ctx.workspace,
            actor=ctx.actor,
            name=payload.name,
            external_id=payload.external_id,
            domain=payload.domain,
        )
    return Status(200 if existed else 201, organization)


@router.get("/organizations/{int:organization_id}", response=OrganizationOut, tags=[ORGANIZATIONS])
def get_organization(request: HttpRequest, organization_id: Id) -> Any:
    ctx = require(request, "read")
    return selectors.organization_get(workspace=ctx.workspace, organization_id=organization_id)


# --- Orders ---------------------------------------------------------------------------------


@router.get("/orders", response=PageOut[OrderOut], tags=[ORDERS])
def list_orders(request: HttpRequest, filters: Query[OrderFilters]) -> dict[str, Any]:
    """Orders of the workspace, newest placed first."""
    ctx = require(request, "read")
    page = selectors.order_list(
        workspace=ctx.workspace, status=filters.status, cursor=filters.cursor, limit=filters.limit
    )
    return page_out(page.items, page.next_cursor)


@router.get("/customers/{int:customer_id}/orders", response=PageOut[OrderOut], tags=[ORDERS])
def list_customer_orders(
    request: HttpRequest, customer_id: Id, filters: Query[OrderFilters]
) -> dict[str, Any]:
    """The customer's orders, newest placed first."""
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    page = selectors.order_list(
        workspace=ctx.workspace,
        customer=customer,
        status=filters.status,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_out(page.items, page.next_cursor)


@router.get("/orders/{int:order_id}", response=OrderOut, tags=[ORDERS])
def get_order(request: HttpRequest, order_id: Id) -> Any:
    ctx = require(request, "read")
    return selectors.order_get(workspace=ctx.workspace, order_id=order_id)


@router.put(
    "/orders/by-external-id/{path:external_id}",
    response={200: OrderOut, 201: OrderOut},
    tags=[ORDERS],
)
def upsert_order(
    request: HttpRequest, external_id: ExternalId, payload: OrderUpsertIn
) -> Status[Any]:
    """Create the order with this external id, or update it: re-sending never duplicates.

    `lines`, when sent, replace the order's lines; left out, they are kept.
    """
    ctx = require(request, "write")
    with transaction.atomic():
        customer = api_support.customer_ref(
            workspace=ctx.workspace, customer_id=payload.customer_id, field="customer_id"
        )
        order, created = services.order_upsert(
            workspace=ctx.workspace,
            customer=customer,
            data=api_support.order_input(payload, external_id=external_id),
            actor=ctx.actor,
        )
    return Status(
        201 if created else 200, selectors.order_get(workspace=ctx.workspace, order_id=order.pk)
    )


@router.post("/orders/bulk", response=BulkOut, tags=[ORDERS])
def bulk_upsert_orders(request: HttpRequest, payload: OrdersBulkIn) -> dict[str, Any]:
    """Create or update up to 1,000 orders by external id, each naming its customer by
    `customer_external_id`. Bad items are reported by index; the others are written."""
    ctx = require(request, "write")
    valid, invalid = validate_items(payload.items, OrderBulkItem)
    with transaction.atomic():
        result = services.orders_bulk_upsert(
            workspace=ctx.workspace,
            rows=[api_support.order_row(item) for _, item in valid],
            actor=ctx.actor,
        )
    return api_support.bulk_out(result, positions=[i for i, _ in valid], invalid=invalid)


# --- Consent --------------------------------------------------------------------------------


@router.get("/customers/{int:customer_id}/consents", response=list[ConsentOut], tags=[CONSENT])
def current_consents(request: HttpRequest, customer_id: Id) -> Any:
    """The current decision per purpose and channel."""
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    return selectors.consent_current(customer=customer)


@router.get(
    "/customers/{int:customer_id}/consents/history",
    response=list[ConsentChangeOut],
    tags=[CONSENT],
)
def consent_history(request: HttpRequest, customer_id: Id, limit: Limit = 100) -> Any:
    """Every grant and revocation, newest first."""
    ctx = require(request, "read")
    customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
    return selectors.consent_history(customer=customer, limit=limit)


@router.post("/customers/{int:customer_id}/consents", response={201: ConsentOut}, tags=[CONSENT])
def set_consent(request: HttpRequest, customer_id: Id, payload: ConsentIn) -> Status[Any]:
    """Record a grant or a revocation; the history keeps every decision."""
    ctx = require(request, "write")
    with transaction.atomic():
        customer = selectors.customer_get(workspace=ctx.workspace, customer_id=customer_id)
        consent = services.consent_set(
            customer=customer,
            purpose=payload.purpose,
            channel=payload.channel,
            granted=payload.granted,
            source=payload.source,
            recorded_at=payload.recorded_at,
            actor=ctx.actor,
        )
    return Status(201, consent)
