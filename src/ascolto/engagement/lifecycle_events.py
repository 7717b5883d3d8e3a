"""Internal events from purchase history, for re-order reminders and win-back rules.

The daily job records, through the same `event_ingest` as external events (so they reach the
timeline and the rules):

- `replenishment.due` for each customer and item that is due (recommendations.selectors.is_due),
  once per customer, item and last purchase: the external id is
  `replenishment:<customer>:<item hash>:<last purchase date>`, so a re-run is a no-op and a
  nightly change of the item's usual rhythm, which can move the due date, does not remind twice.
  Buying the item again starts a new cycle and, in time, a new reminder.
- `customer.churn_risk` when a customer's churn risk crossed the threshold, once per crossing:
  `churn-risk:<customer>:<last order date>` (a new order starts a new period).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import transaction

from ascolto.core.actors import Actor
from ascolto.core.models import Workspace
from ascolto.engagement.models import Event, EventType
from ascolto.engagement.services import CustomerRef, EventInput, event_ingest
from ascolto.recommendations import selectors as recommendation_selectors

SOURCE = "recommendations"
# Under SQLite's limit of bound parameters per query.
LOOKUP_CHUNK = 500


def replenishment_external_id(customer_id: int, item_key: str, last_purchase_on: dt.date) -> str:
    item = hashlib.sha256(item_key.encode()).hexdigest()[:16]
    return f"replenishment:{customer_id}:{item}:{last_purchase_on.isoformat()}"


def churn_external_id(customer_id: int, last_order_on: dt.date) -> str:
    return f"churn-risk:{customer_id}:{last_order_on.isoformat()}"


@dataclass(frozen=True)
class Recorded:
    replenishment_due: int
    churn_risk: int


def lifecycle_events_record(
    *, workspace: Workspace, actor: Actor, today: dt.date | None = None
) -> Recorded:
    """Record today's new `replenishment.due` and `customer.churn_risk` events of a workspace;
    returns how many were new. The caller owns the transaction."""
    inputs: list[EventInput] = []
    for due in recommendation_selectors.replenishment_due(workspace=workspace, today=today):
        inputs.append(
            EventInput(
                external_id=replenishment_external_id(
                    due.customer_id, due.item_key, due.last_purchase_on
                ),
                type=EventType.REPLENISHMENT_DUE,
                customer=CustomerRef(id=due.customer_id),
                payload={
                    "name": due.name,
                    "sku": due.sku,
                    "due_on": due.due_on.isoformat(),
                    "last_purchase_on": due.last_purchase_on.isoformat(),
                    "interval_days": due.interval_days,
                },
                source=SOURCE,
            )
        )
    for crossing in recommendation_selectors.churn_crossings(workspace=workspace, today=today):
        inputs.append(
            EventInput(
                external_id=churn_external_id(crossing.customer_id, crossing.last_order_on),
                type=EventType.CUSTOMER_CHURN_RISK,
                customer=CustomerRef(id=crossing.customer_id),
                payload={
                    "risk": round(crossing.risk, 3),
                    "last_order_on": crossing.last_order_on.isoformat(),
                    "crossed_on": crossing.crossed_on.isoformat(),
                    "usual_gap_days": round(crossing.usual_gap_days, 1),
                    "orders": crossing.orders,
                },
                source=SOURCE,
            )
        )
    ids = [i.external_id for i in inputs]
    known: set[str] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        known.update(
            Event.objects.filter(
                workspace=workspace, external_id__in=ids[start : start + LOOKUP_CHUNK]
            ).values_list("external_id", flat=True)
        )
    counts = {EventType.REPLENISHMENT_DUE: 0, EventType.CUSTOMER_CHURN_RISK: 0}
    for data in inputs:
        if data.external_id in known:
            continue
        _, created = event_ingest(workspace=workspace, data=data, actor=actor)
        counts[EventType(data.type)] += int(created)
    return Recorded(
        replenishment_due=counts[EventType.REPLENISHMENT_DUE],
        churn_risk=counts[EventType.CUSTOMER_CHURN_RISK],
    )


def record_all(*, actor: Actor, today: dt.date | None = None) -> int:
    """Record the events of every workspace, each in its own transaction; returns how many."""
    total = 0
    for workspace in Workspace.objects.order_by("pk"):
        with transaction.atomic():
            recorded = lifecycle_events_record(workspace=workspace, actor=actor, today=today)
        total += recorded.replenishment_due + recorded.churn_risk
    return total
