"""Customer 360 writes. Import from here: `from ascolto.customers import services`."""

from ascolto.customers.services.bulk import (
    BulkResult,
    CustomerInput,
    OrderRowInput,
    RowError,
    customer_upsert,
    customers_bulk_upsert,
    orders_bulk_upsert,
)
from ascolto.customers.services.customers import (
    activities_record,
    activity_record,
    attribute_definitions,
    consent_set,
    customer_create,
    customer_get_or_create_by_identity,
    customer_snapshot,
    customer_update,
    identity_add,
    identity_remove,
    organization_upsert,
)
from ascolto.customers.services.handles import Handle, HandlesResult, customers_by_handles
from ascolto.customers.services.merge import customer_merge
from ascolto.customers.services.orders import (
    OrderInput,
    OrderLineInput,
    customer_refresh_stats,
    order_upsert,
)

__all__ = [
    "BulkResult",
    "CustomerInput",
    "Handle",
    "HandlesResult",
    "OrderInput",
    "OrderLineInput",
    "OrderRowInput",
    "RowError",
    "activities_record",
    "activity_record",
    "attribute_definitions",
    "consent_set",
    "customer_create",
    "customer_get_or_create_by_identity",
    "customer_merge",
    "customer_refresh_stats",
    "customer_snapshot",
    "customer_update",
    "customer_upsert",
    "customers_bulk_upsert",
    "customers_by_handles",
    "identity_add",
    "identity_remove",
    "order_upsert",
    "orders_bulk_upsert",
    "organization_upsert",
]
