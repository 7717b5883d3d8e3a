"""The `recommendations` and `replenishment_due` variables of engagement message templates.

Each is a zero-argument callable, computed once and only when a template uses the variable
(Django's template engine calls callables it resolves), returning plain dicts of strings.
Call them inside `translation.override(<customer's language>)`: reasons and dates are localised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.utils import formats

from ascolto.customers.models import Customer
from ascolto.recommendations import selectors

Variable = Callable[[], list[dict[str, str]]]


def recommendations_variable(customer: Customer) -> Variable:
    @functools.cache
    def compute() -> list[dict[str, str]]:
        return [
            {"name": r.name, "sku": r.sku, "reason": r.reason}
            for r in selectors.recommendations_for(customer=customer)
        ]

    return compute


def replenishment_variable(customer: Customer) -> Variable:
    @functools.cache
    def compute() -> list[dict[str, str]]:
        return [
            {
                "name": r.name,
                "sku": r.sku,
                "due_on": str(formats.date_format(r.due_on, "DATE_FORMAT")),
                "reason": r.reason,
            }
            for r in selectors.replenishment_for(customer=customer)
        ]

    return compute
