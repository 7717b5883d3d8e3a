"""Offline check of bought-together: hit-rate@k on a time split of a transactions file.

Pairs are learnt from the orders before the split; each customer who bought before and after it
and bought something new after it is evaluable; a hit is one of their new items among the top k
suggestions from their earlier items (owned items left out). A popularity baseline (the k most
ordered items they do not own) is reported beside it. Reads the UCI Online Retail layout
(InvoiceNo, StockCode, InvoiceDate "M/D/YYYY H:MM", CustomerID); cancellations ("C…") and rows
without a customer are skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ascolto.recommendations import scoring


@dataclass(frozen=True)
class Line:
    order: str
    customer: str
    item: str
    when: dt.datetime


@dataclass(frozen=True)
class HitRate:
    split: dt.datetime
    train_orders: int
    pairs: int
    evaluable: int
    hits: int
    baseline_hits: int
    k: int

    @property
    def rate(self) -> float:
        return self.hits / self.evaluable if self.evaluable else 0.0

    @property
    def baseline_rate(self) -> float:
        return self.baseline_hits / self.evaluable if self.evaluable else 0.0


def read_online_retail(path: Path) -> list[Line]:
    lines = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            order, customer = row["InvoiceNo"].strip(), row["CustomerID"].strip()
            if not order or order.startswith("C") or customer in ("", "NA"):
                continue
            when = dt.datetime.strptime(row["InvoiceDate"].strip(), "%m/%d/%Y %H:%M")
            lines.append(Line(order, customer, row["StockCode"].strip().upper(), when))
    return lines


def hit_rate(
    lines: list[Line], *, k: int = 10, train_share: float = 0.8, min_together: int = 2
) -> HitRate:
    """Hit-rate@k of bought-together against a popularity baseline, split at the date before
    which `train_share` of the lines fall."""
    times = sorted(line.when for line in lines)
    split = times[min(int(len(times) * train_share), len(times) - 1)]
    train = [line for line in lines if line.when < split]
    test = [line for line in lines if line.when >= split]
    items = {item: i for i, item in enumerate(sorted({line.item for line in lines}))}
    orders = {order: i for i, order in enumerate(sorted({line.order for line in train}))}
    pairs = scoring.co_occurrence(
        np.asarray([orders[line.order] for line in train], dtype=np.int64),
        np.asarray([items[line.item] for line in train], dtype=np.int64),
        n_items=len(items),
        min_together=min_together,
    )
    suggestions: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
    for a, b, confidence, lift in zip(
        pairs.antecedent.tolist(),
        pairs.consequent.tolist(),
        pairs.confidence.tolist(),
        pairs.lift.tolist(),
        strict=True,
    ):
        suggestions[a].append((confidence, lift, b))
    order_items = {(line.order, line.item) for line in train}
    popular = [items[item] for item, _ in Counter(i for _, i in order_items).most_common()]
    owned: dict[str, set[int]] = defaultdict(set)
    for line in train:
        owned[line.customer].add(items[line.item])
    later: dict[str, set[int]] = defaultdict(set)
    for line in test:
        later[line.customer].add(items[line.item])
    evaluable = hits = baseline_hits = 0
    for customer, bought in later.items():
        mine = owned.get(customer)
        new = bought - (mine or set())
        if not mine or not new:
            continue
        evaluable += 1
        candidates = sorted(
            (s for item in mine for s in suggestions.get(item, [])), key=lambda s: (-s[0], -s[1])
        )
        top = list(dict.fromkeys(b for _, _, b in candidates if b not in mine))[:k]
        hits += bool(new & set(top))
        baseline = [item for item in popular if item not in mine][:k]
        baseline_hits += bool(new & set(baseline))
    return HitRate(split, len(orders), len(pairs.antecedent), evaluable, hits, baseline_hits, k)
