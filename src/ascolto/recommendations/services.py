"""Recommendation writes: the recompute of a workspace's stored pairs and item cycles.

The caller owns the transaction (the nightly job wraps each workspace in `transaction.atomic`),
so readers see the old set or the new one, never half of each.
"""

from __future__ import annotations

from dataclasses import dataclass

from ascolto.core.models import Workspace
from ascolto.recommendations import scoring
from ascolto.recommendations.models import ItemAffinity, ItemCycle
from ascolto.recommendations.purchases import purchase_lines

# A pair needs this many orders together: one shared basket is a coincidence, not a pattern.
MIN_TOGETHER = 2
MIN_SUPPORT = 0.0
TOP_PER_ITEM = 20
BATCH = 1_000


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
    ItemAffinity.objects.bulk_create(
        (
            ItemAffinity(
                workspace=workspace,
                item_key=catalogue.keys[a],
                item_name=catalogue.names[a][:300],
                other_key=catalogue.keys[b],
                other_name=catalogue.names[b][:300],
                other_sku=catalogue.skus[b][:100],
                together=int(n),
                confidence=float(c),
                lift=float(lift),
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
        batch_size=BATCH,
    )
    ItemCycle.objects.bulk_create(
        (
            ItemCycle(
                workspace=workspace,
                item_key=catalogue.keys[item],
                name=catalogue.names[item][:300],
                sku=catalogue.skus[item][:100],
                median_days=median,
                gaps=cycles.item_gaps[item],
            )
            for item, median in cycles.item_median.items()
        ),
        batch_size=BATCH,
    )
    return Recomputed(
        orders=pairs.orders,
        items=len(catalogue.keys),
        pairs=len(pairs.antecedent),
        cycles=len(cycles.item_median),
    )
