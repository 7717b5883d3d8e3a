"""Realtime events of Customer 360 (payloads carry ids; clients fetch what they show)."""

from ascolto.core.realtime import define_event

CUSTOMER_UPDATED = define_event("customers.customer.updated", customer_id=int)
CUSTOMER_MERGED = define_event("customers.customer.merged", customer_id=int, merged_customer_id=int)
ACTIVITY_CREATED = define_event(
    "customers.activity.created", customer_id=int, activity_id=int, kind=str
)
