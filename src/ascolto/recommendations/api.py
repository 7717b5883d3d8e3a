"""GET /api/v1/customers/{id}/recommendations: bought-together suggestions and what is due."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from ascolto.core.api import Id, api_auth, require
from ascolto.customers import selectors as customer_selectors
from ascolto.recommendations import selectors

router = Router(auth=api_auth)


class RecommendationOut(Schema):
    name: str
    sku: str
    because_of: str
    confidence: float
    lift: float
    reason: str


class ReplenishmentOut(Schema):
    name: str
    sku: str
    due_on: dt.date
    interval_days: int
    own_rhythm: bool
    reason: str


class RecommendationsOut(Schema):
    customer_id: int
    recommendations: list[RecommendationOut]
    replenishment_due: list[ReplenishmentOut]


@router.get(
    "/customers/{int:customer_id}/recommendations",
    response=RecommendationsOut,
    tags=["customers"],
)
def customer_recommendations(request: HttpRequest, customer_id: Id) -> Any:
    """Items often bought with what the customer bought (not ones they own, unless
    consumable), and the items they are due to re-buy; reasons in the request's language."""
    ctx = require(request, "read")
    customer = customer_selectors.customer_get(
        workspace=ctx.workspace, customer_id=customer_id, follow_merge=True
    )
    return {
        "customer_id": customer.pk,
        "recommendations": selectors.recommendations_for(customer=customer),
        "replenishment_due": selectors.replenishment_for(customer=customer),
    }
