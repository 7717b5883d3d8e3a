"""The maths of recommendations, over plain arrays (no Django), so tests and benches feed it alike.

- Bought together: a binary orders x items matrix X; C = XᵀX counts, for every pair of items, the
  orders holding both (the diagonal: the orders holding each item). For items A → B:
  support = C[A,B] / orders, confidence = C[A,B] / C[A,A] (the share of A's orders that also hold
  B), lift = confidence / (C[B,B] / orders) (how much more often than chance).
- Replenishment: the gaps in days between a customer's distinct purchase days of one item; their
  median is the customer's cycle, and the pooled median over all customers the item's cycle.

Everything is set-based (sparse matrix products, sorts and cumulative sums), never a Python loop
over orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Pairs:
    """Association rules antecedent → consequent, as parallel arrays of item indexes."""

    antecedent: IntArray
    consequent: IntArray
    together: IntArray  # orders holding both
    confidence: FloatArray
    lift: FloatArray
    orders: int


def co_occurrence(
    order_index: IntArray,
    item_index: IntArray,
    *,
    n_items: int,
    min_together: int = 2,
    min_support: float = 0.0,
    min_lift: float = 1.0,
    top: int = 20,
) -> Pairs:
    """Pairs of items bought in the same orders, the `top` per antecedent by confidence then lift.

    `order_index[k]`, `item_index[k]` is one order line (repeats in an order count once). A pair
    needs `min_together` orders and a support of at least `min_support`, and a lift above
    `min_lift` (bought together more often than chance).
    """
    empty = Pairs(
        antecedent=np.zeros(0, np.int64),
        consequent=np.zeros(0, np.int64),
        together=np.zeros(0, np.int64),
        confidence=np.zeros(0),
        lift=np.zeros(0),
        orders=0,
    )
    if len(order_index) == 0:
        return empty
    _, order_rows = np.unique(order_index, return_inverse=True)
    n_orders = int(order_rows.max()) + 1
    matrix = sparse.csr_matrix(
        (np.ones(len(order_rows), dtype=np.int64), (order_rows, item_index)),
        shape=(n_orders, n_items),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    counts = np.asarray(matrix.sum(axis=0)).ravel().astype(np.int64)
    pairs = (matrix.T @ matrix).tocoo()
    a = pairs.row.astype(np.int64)
    b = pairs.col.astype(np.int64)
    together = pairs.data.astype(np.int64)
    keep = (a != b) & (together >= min_together) & (together / n_orders >= min_support)
    a, b, together = a[keep], b[keep], together[keep]
    confidence = together / counts[a]
    lift = confidence / (counts[b] / n_orders)
    keep = lift > min_lift
    a, b, together, confidence, lift = (
        a[keep],
        b[keep],
        together[keep],
        confidence[keep],
        lift[keep],
    )
    if len(a) == 0:
        return Pairs(a, b, together, confidence, lift, n_orders)
    # Sort by antecedent, then best first; keep the first `top` of each antecedent.
    order = np.lexsort((b, -lift, -confidence, a))
    a, b, together, confidence, lift = (
        a[order],
        b[order],
        together[order],
        confidence[order],
        lift[order],
    )
    starts = np.r_[0, np.flatnonzero(np.diff(a)) + 1]
    rank = np.arange(len(a)) - np.repeat(starts, np.diff(np.r_[starts, len(a)]))
    keep = rank < top
    return Pairs(a[keep], b[keep], together[keep], confidence[keep], lift[keep], n_orders)


@dataclass(frozen=True)
class GroupMedians:
    group: IntArray  # the distinct group ids, ascending
    median: FloatArray
    count: IntArray


def group_medians(group: IntArray, values: FloatArray) -> GroupMedians:
    """The median of `values` within each group id (vectorised: one sort, no loop)."""
    if len(group) == 0:
        return GroupMedians(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
    order = np.lexsort((values, group))
    group, values = group[order], values[order]
    ids, starts, counts = np.unique(group, return_index=True, return_counts=True)
    low = values[starts + (counts - 1) // 2]
    high = values[starts + counts // 2]
    return GroupMedians(ids.astype(np.int64), (low + high) / 2.0, counts.astype(np.int64))


@dataclass(frozen=True)
class Cycles:
    """Per (customer, item) that was bought: the last purchase day, the number of distinct
    purchase days and the median gap between them (NaN with a single purchase day)."""

    customer: IntArray
    item: IntArray
    last_day: IntArray
    purchases: IntArray
    own_median: FloatArray
    # Per item: the pooled median gap over all customers' repeat purchases, and how many gaps.
    item_median: dict[int, float]
    item_gaps: dict[int, int]


def purchase_cycles(
    customer: IntArray, item: IntArray, day: IntArray, *, min_item_gaps: int = 2
) -> Cycles:
    """Purchase rhythms from purchase lines (`day` is a day number, e.g. days since epoch).

    An item's pooled cycle needs `min_item_gaps` gaps (so one customer's one repeat is not
    taken as the item's rhythm).
    """
    if len(customer) == 0:
        z = np.zeros(0, np.int64)
        return Cycles(z, z, z, z, np.zeros(0), {}, {})
    triples = np.unique(np.stack([customer, item, day], axis=1), axis=0)
    c, i, d = triples[:, 0], triples[:, 1], triples[:, 2]
    same_pair = (c[1:] == c[:-1]) & (i[1:] == i[:-1])
    gaps = (d[1:] - d[:-1])[same_pair].astype(np.float64)
    gap_row = np.flatnonzero(same_pair) + 1  # the row of the later purchase of each gap
    pair_starts = np.r_[0, np.flatnonzero(~same_pair) + 1]
    pair_of_row = np.repeat(np.arange(len(pair_starts)), np.diff(np.r_[pair_starts, len(c)]))
    pair_ends = np.r_[pair_starts[1:], len(c)] - 1
    own = group_medians(pair_of_row[gap_row], gaps)
    own_median = np.full(len(pair_starts), np.nan)
    own_median[own.group] = own.median
    pooled = group_medians(i[gap_row], gaps)
    enough = pooled.count >= min_item_gaps
    return Cycles(
        customer=c[pair_starts],
        item=i[pair_starts],
        last_day=d[pair_ends],
        purchases=(pair_ends - pair_starts + 1).astype(np.int64),
        own_median=own_median,
        item_median={
            int(k): float(v)
            for k, v in zip(pooled.group[enough], pooled.median[enough], strict=True)
        },
        item_gaps={
            int(k): int(v) for k, v in zip(pooled.group[enough], pooled.count[enough], strict=True)
        },
    )
