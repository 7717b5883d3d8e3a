"""RFM scores and value tiers.

Each customer with at least one order gets three scores from 1 to 5 against the other customers of
the same workspace: Recency (days since the last order, fewer is better), Frequency (orders) and
Monetary (total spend). Scores are quintiles of the mid-rank percentile, so ties share a score, a
lone customer or a crowd of identical customers scores 3 (the middle), and five distinct customers
score 1 to 5. The value tier comes from the sum of the three scores (3 to 15) and a `TierPolicy`.
Customers without orders are unranked (tier "").

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
    """Minimum R+F+M score (3..15) for each tier; below `silver` a ranked customer is bronze.

    The defaults put a customer who is top-quintile on two scores and fourth on the third
    (5+5+4 = 14, or 5+4+4 = 13) in platinum, and one who is about average everywhere (3+3+3 = 9)
    in silver.
    """

    platinum: int = 13
    gold: int = 10
    silver: int = 7

    def __post_init__(self) -> None:
        if not 3 <= self.silver <= self.gold <= self.platinum <= 3 * QUANTILES:
            raise InvalidInput("tier thresholds must satisfy 3 <= silver <= gold <= platinum <= 15")

    def tier_for(self, total_score: int) -> str:
        if total_score >= self.platinum:
            return PLATINUM
        if total_score >= self.gold:
            return GOLD
        if total_score >= self.silver:
            return SILVER
        return BRONZE


@dataclass(frozen=True)
class RFMScores:
    """Scores aligned with the input customers; 0 in all three for an unranked customer."""

    recency: IntArray
    frequency: IntArray
    monetary: IntArray
    tiers: list[str]

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
    totals = recency + frequency + monetary
    tiers = [
        policy.tier_for(int(total)) if is_ranked else UNRANKED
        for total, is_ranked in zip(totals, ranked, strict=True)
    ]
    return RFMScores(recency=recency, frequency=frequency, monetary=monetary, tiers=tiers)
