"""RFM scores and value tiers.

Each customer with at least one order gets three scores from 1 to 5 against the other customers of
the same workspace: Recency (days since the last order, fewer is better), Frequency (orders) and
Monetary (total spend). Scores are quintiles of the mid-rank percentile, so ties share a score, a
lone customer or a crowd of identical customers scores 3 (the middle), and five distinct customers
score 1 to 5.

The value tier is a quota on the same ranking, so routing and SLA policies can count on its size:
customers are ordered by R+F+M (3 to 15), then total spend, then orders, then recency, and a
customer's position is the mid-rank share of customers ahead of her. By default the top 5% are
platinum, the next 15% gold, the next 30% silver and the rest bronze. Ties share a tier; a lone
customer or a crowd of identical ones sits at the middle (silver), since nobody stands out.
Customers without orders are unranked (tier "").

A scheduled run scores the whole workspace and keeps an `RFMReference` (the score and tier edges, a
few numbers); an order event re-scores just that customer against it with `score_customer`, which
gives every customer of the run exactly the scores and tier the run gave her.

Tier names are the values of `customers.models.ValueTier`, repeated here as plain strings so this
module stays free of Django.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata  # type: ignore[import-untyped]

from ascolto.analytics.value._arrays import (
    FloatArray,
    IntArray,
    InvalidInput,
    as_float_array,
    same_length,
)

PLATINUM = "platinum"
GOLD = "gold"
SILVER = "silver"
BRONZE = "bronze"
UNRANKED = ""
TIERS = (PLATINUM, GOLD, SILVER, BRONZE)
QUANTILES = 5


@dataclass(frozen=True)
class TierPolicy:
    """Cumulative shares of ranked customers, from the top, that make each tier.

    A customer whose mid-rank position (share of customers ahead, ties counted half) is at most
    `platinum` is platinum, at most `gold` gold, at most `silver` silver, otherwise bronze.
    """

    platinum: float = 0.05
    gold: float = 0.20
    silver: float = 0.50

    def __post_init__(self) -> None:
        if not 0.0 <= self.platinum <= self.gold <= self.silver <= 1.0:
            raise InvalidInput("tier shares must satisfy 0 <= platinum <= gold <= silver <= 1")

    def tier_for(self, position: float) -> str:
        """Tier of a customer at `position` (0 = top, 1 = bottom) among the ranked customers."""
        if position <= self.platinum:
            return PLATINUM
        if position <= self.gold:
            return GOLD
        if position <= self.silver:
            return SILVER
        return BRONZE


@dataclass(frozen=True)
class RFMReference:
    """Edges of a scheduled run, to score one customer later without the whole workspace.

    `*_edges[k]` is the lowest oriented value (days negated for recency) that scored k + 2 in the
    run, None when nobody did; `tier_edges[tier]` the lowest ranking key (R+F+M, spend, orders,
    negated days) that made the tier or a better one. A value beyond everything the run saw
    scores 5 (above) or 1 (below). Plain lists and dicts: store it as JSON.
    """

    recency_edges: list[float | None]
    frequency_edges: list[float | None]
    monetary_edges: list[float | None]
    tier_edges: dict[str, list[float] | None]
    observed: dict[str, list[float]]  # "recency" / "frequency" / "monetary" -> [lowest, highest]


@dataclass(frozen=True)
class RFMScores:
    """Scores aligned with the input customers; 0 in all three for an unranked customer."""

    recency: IntArray
    frequency: IntArray
    monetary: IntArray
    tiers: list[str]
    reference: RFMReference

    @property
    def total(self) -> IntArray:
        result: IntArray = self.recency + self.frequency + self.monetary
        return result


def quintile_scores(
    values: Iterable[float] | FloatArray, *, higher_is_better: bool = True
) -> IntArray:
    """Score each value 1..5 by its mid-rank percentile among `values` (ties share a score)."""
    array = as_float_array(values, "values")
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = rankdata(array if higher_is_better else -array, method="average")
    percentile = (ranks - 0.5) / len(array)
    result: IntArray = np.clip(np.floor(percentile * QUANTILES).astype(np.int64) + 1, 1, QUANTILES)
    return result


def rfm_scores(
    days_since_last_order: Iterable[float | None],
    orders_count: Iterable[float],
    total_spend: Iterable[float],
    *,
    policy: TierPolicy | None = None,
) -> RFMScores:
    """Score and tier a workspace's customers; one entry per customer, in input order.

    A customer with no orders (or no known last order) is unranked: scores 0, tier "". Negative
    counts, negative days or non-finite numbers raise InvalidInput; a negative total spend (refunds
    above purchases) is allowed and simply ranks last.
    """
    policy = policy or TierPolicy()
    recency_days = np.array(
        [np.nan if d is None else float(d) for d in days_since_last_order], dtype=float
    )
    orders = as_float_array(orders_count, "orders_count")
    spend = as_float_array(total_spend, "total_spend")
    same_length(days_since_last_order=recency_days, orders_count=orders, total_spend=spend)
    if np.any(orders < 0):
        raise InvalidInput("orders_count must not be negative")
    known = ~np.isnan(recency_days)
    if np.any(np.isinf(recency_days)) or np.any(recency_days[known] < 0):
        raise InvalidInput("days_since_last_order must be zero or more")
    ranked = known & (orders > 0)
    n = len(orders)
    recency = np.zeros(n, dtype=np.int64)
    frequency = np.zeros(n, dtype=np.int64)
    monetary = np.zeros(n, dtype=np.int64)
    recency[ranked] = quintile_scores(recency_days[ranked], higher_is_better=False)
    frequency[ranked] = quintile_scores(orders[ranked])
    monetary[ranked] = quintile_scores(spend[ranked])
    positions = np.full(n, np.nan)
    positions[ranked] = _positions_from_top(
        recency[ranked] + frequency[ranked] + monetary[ranked],
        spend[ranked],
        orders[ranked],
        -recency_days[ranked],
    )
    tiers = [
        policy.tier_for(float(position)) if is_ranked else UNRANKED
        for position, is_ranked in zip(positions, ranked, strict=True)
    ]
    keys = np.column_stack(
        [recency + frequency + monetary, spend, orders, -np.nan_to_num(recency_days)]
    )
    tier_array = np.asarray(tiers, dtype=object)
    tier_edges: dict[str, list[float] | None] = {}
    for depth, tier in enumerate(TIERS):
        members = np.isin(tier_array, TIERS[: depth + 1]) & ranked
        tier_edges[tier] = _lowest_key(keys[members]) if np.any(members) else None
    reference = RFMReference(
        recency_edges=_score_edges(-recency_days[ranked], recency[ranked]),
        frequency_edges=_score_edges(orders[ranked], frequency[ranked]),
        monetary_edges=_score_edges(spend[ranked], monetary[ranked]),
        tier_edges=tier_edges,
        observed={
            name: [float(column.min()), float(column.max())] if len(column) else []
            for name, column in (
                ("recency", -recency_days[ranked]),
                ("frequency", orders[ranked]),
                ("monetary", spend[ranked]),
            )
        },
    )
    return RFMScores(
        recency=recency, frequency=frequency, monetary=monetary, tiers=tiers, reference=reference
    )


def score_customer(
    reference: RFMReference,
    *,
    days_since_last_order: float | None,
    orders_count: float,
    total_spend: float,
) -> tuple[int, int, int, str]:
    """(R, F, M, tier) of one customer against a stored run; (0, 0, 0, "") without orders."""
    if days_since_last_order is None or orders_count <= 0:
        return 0, 0, 0, UNRANKED
    values = as_float_array([days_since_last_order, orders_count, total_spend], "customer")
    if values[0] < 0:
        raise InvalidInput("days_since_last_order must be zero or more")
    r = _score_from_edges(-values[0], reference.recency_edges, reference.observed["recency"])
    f = _score_from_edges(values[1], reference.frequency_edges, reference.observed["frequency"])
    m = _score_from_edges(values[2], reference.monetary_edges, reference.observed["monetary"])
    key = (float(r + f + m), float(values[2]), float(values[1]), float(-values[0]))
    if all(edge is None for edge in reference.tier_edges.values()):
        return r, f, m, SILVER  # as a lone customer in a run of her own
    for tier in TIERS[:-1]:
        edge = reference.tier_edges.get(tier)
        if edge is not None and key >= tuple(edge):
            return r, f, m, tier
    return r, f, m, BRONZE


def _score_edges(oriented: FloatArray, scores: IntArray) -> list[float | None]:
    return [
        float(oriented[scores >= k].min()) if np.any(scores >= k) else None
        for k in range(2, QUANTILES + 1)
    ]


def _score_from_edges(value: float, edges: list[float | None], observed: list[float]) -> int:
    if not observed:
        return (QUANTILES + 1) // 2  # the run had nobody to compare with: a lone customer's score
    if value > observed[1]:
        return QUANTILES
    if value < observed[0]:
        return 1
    return 1 + sum(1 for edge in edges if edge is not None and value >= edge)


def _lowest_key(keys: FloatArray) -> list[float]:
    lowest = keys[np.lexsort(tuple(keys[:, i] for i in reversed(range(keys.shape[1]))))[0]]
    return [float(v) for v in lowest]


def _positions_from_top(*keys: FloatArray | IntArray) -> FloatArray:
    """Mid-rank share of customers ranked above each one, ordering by `keys` (first key first).

    0.05 means 5% of the customers are ahead; customers with equal keys share a position.
    """
    n = len(keys[0])
    if n == 0:
        return np.zeros(0)
    order = np.lexsort(tuple(-np.asarray(key, dtype=float) for key in reversed(keys)))
    stacked = np.column_stack([np.asarray(key, dtype=float) for key in keys])[order]
    new_group = np.concatenate(([True], np.any(stacked[1:] != stacked[:-1], axis=1)))
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.append(starts, n))
    group_position = (starts + sizes / 2.0) / n
    positions = np.empty(n)
    positions[order] = np.repeat(group_position, sizes)
    return positions
