"""Recommendation writes: the recompute of a workspace's stored pairs and item cycles.

The caller owns the transaction (the nightly job wraps each workspace in `transaction.atomic`),
so readers see the old set or the new one, never half of each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.utils import timezone

from ascolto.core.models import Workspace
from ascolto.recommendations import scoring
from ascolto.recommendations.models import ItemAffinity, ItemCycle
from ascolto.recommendations.purchases import purchase_lines

# A pair needs this many orders together: one shared basket is a coincidence, not a pattern.
MIN_TOGETHER = 2
MIN_SUPPORT = 0.0
TOP_PER_ITEM = 20


def _insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    *,
    workspace: Workspace,
    now: Any,
) -> None:
    """Plain multi-row INSERTs of derived rows: bulk_create builds and validates a model
    instance per row, which made it most of the recompute's time (10,000 pairs: ~6 s)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ["workspace_id", "created_at", "updated_at", *fields]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    # SQLite allows 999 bound parameters in old builds: stay under it.
    per_statement = max(1, 900 // len(columns))
    batch: list[tuple[Any, ...]] = []

    def flush() -> None:
        if not batch:
            return
        # The table and columns come from the model; values always go through parameters.
        values = ", ".join([placeholders] * len(batch))
        sql = f"INSERT INTO {table} ({quoted}) VALUES {values}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for row in batch for value in row])
        batch.clear()

    for row in rows:
        batch.append((workspace.pk, now, now, *row))
        if len(batch) >= per_statement:
            flush()
    flush()


@dataclass(frozen=True)
class Recomputed:
    orders: int
    items: int
    pairs: int
    cycles: int


def affinities_recompute(
    *,
    workspace: Workspace,
    min_together: int = MIN_TOGETHER,
    min_support: float = MIN_SUPPORT,
    top: int = TOP_PER_ITEM,
) -> Recomputed:
    """Replace the workspace's bought-together pairs and item cycles with a fresh computation
    over all its purchases."""
    lines = purchase_lines(workspace=workspace)
    catalogue = lines.catalogue
    pairs = scoring.co_occurrence(
        lines.order,
        lines.item,
        n_items=len(catalogue.keys),
        min_together=min_together,
        min_support=min_support,
        top=top,
    )
    cycles = scoring.purchase_cycles(lines.customer, lines.item, lines.day)
    ItemAffinity.objects.filter(workspace=workspace).delete()
    ItemCycle.objects.filter(workspace=workspace).delete()
    now = timezone.now()
    _insert(
        ItemAffinity,
        (
            "item_key",
            "item_name",
            "other_key",
            "other_name",
            "other_sku",
            "together",
            "confidence",
            "lift",
        ),
        (
            (
                catalogue.keys[a],
                catalogue.names[a][:300],
                catalogue.keys[b],
                catalogue.names[b][:300],
                catalogue.skus[b][:100],
                n,
                c,
                lift,
            )
            for a, b, n, c, lift in zip(
                pairs.antecedent.tolist(),
                pairs.consequent.tolist(),
                pairs.together.tolist(),
                pairs.confidence.tolist(),
                pairs.lift.tolist(),
                strict=True,
            )
        ),
        workspace=workspace,
        now=now,
    )
    _insert(
        ItemCycle,
        ("item_key", "name", "sku", "median_days", "gaps"),
        (
            (
                catalogue.keys[item],
                catalogue.names[item][:300],
                catalogue.skus[item][:100],
                median,
                cycles.item_gaps[item],
            )
            for item, median in cycles.item_median.items()
        ),
        workspace=workspace,
        now=now,
    )
    return Recomputed(
        orders=pairs.orders,
        items=len(catalogue.keys),
        pairs=len(pairs.antecedent),
        cycles=len(cycles.item_median),
    )
