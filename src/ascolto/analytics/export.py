"""Exports: one row per conversation (every timestamp and metric) and one per customer, as CSV
lines streamed in chunks (constant memory) and as one Parquet file (pyarrow).

Rows follow the dashboard filters; metrics use the definitions in `analytics.service_metrics`.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import importlib.util
import io
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db.models import Count, Sum

from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards.conversations import conversation_queryset
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.value import EXCLUDED
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer
from ascolto.inbox.models import HandlingInterval, Message

CHUNK = 1000
TIMESTAMPS = [
    "created_at",
    "first_customer_message_at",
    "first_response_at",
    "last_customer_message_at",
    "last_agent_message_at",
    "resolved_at",
    "closed_at",
    "first_response_due_at",
    "resolution_due_at",
]
CONVERSATION_COLUMNS = [
    "id",
    "channel",
    "status",
    "language",
    "customer_id",
    "assignee_id",
    "team_id",
    *TIMESTAMPS,
    "message_count",
    "reopen_count",
    "transfer_count",
    "first_response_seconds",
    "next_response_mean_seconds",
    "resolution_seconds",
    "handle_seconds",
    "first_response_sla_met",
    "resolution_sla_met",
    "bot_resolved",
]
CUSTOMER_COLUMNS = [
    "id",
    "external_id",
    "name",
    "language",
    "value_tier",
    "orders_count",
    "lifetime_spend",
    "last_order_at",
    "conversations_in_period",
    "revenue_in_period",
]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _sla_met(done: dt.datetime | None, due: dt.datetime | None, now: dt.datetime) -> bool | None:
    if due is None or (done is None and due > now):
        return None
    return done is not None and done <= due


def conversation_rows(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime
) -> Iterator[list[Any]]:
    """One list per conversation, in CONVERSATION_COLUMNS order, read CHUNK conversations at a
    time (three queries per chunk)."""
    fields = ["id", "channel", "status", "language", "customer_id", "assignee_id", "team_id"]
    fields += [*TIMESTAMPS, "message_count", "reopen_count", "transfer_count"]
    rows = (
        conversation_queryset(workspace=workspace, filters=filters)
        .order_by("pk")
        .values(*fields)
        .iterator(chunk_size=CHUNK)
    )
    while chunk := list(islice(rows, CHUNK)):
        ids = [r["id"] for r in chunk]
        facts = {
            r["id"]: m.ConversationFacts(
                id=r["id"],
                customer_id=r["customer_id"],
                channel=r["channel"],
                created_at=r["created_at"],
                status=r["status"],
                first_customer_message_at=r["first_customer_message_at"],
                first_response_at=r["first_response_at"],
                resolved_at=r["resolved_at"],
                reopen_count=r["reopen_count"],
                transfer_count=r["transfer_count"],
                first_response_due_at=r["first_response_due_at"],
                resolution_due_at=r["resolution_due_at"],
            )
            for r in chunk
        }
        kinds: dict[int, set[str]] = {i: set() for i in ids}
        for cid, at, kind in (
            Message.objects.filter(workspace=workspace, conversation_id__in=ids)
            .exclude(kind=Message.Kind.NOTE)
            .values_list("conversation_id", "created_at", "kind")
        ):
            facts[cid].messages.append(m.MessageFact(at=at, kind=kind))
            kinds[cid].add(kind)
        for cid, agent_id, started, ended in HandlingInterval.objects.filter(
            workspace=workspace, conversation_id__in=ids
        ).values_list("conversation_id", "agent_id", "started_at", "ended_at"):
            facts[cid].handling.append((agent_id, started, ended))
        for r in chunk:
            f = facts[r["id"]]
            f.bot_resolved = (
                f.resolved_at is not None and "bot" in kinds[f.id] and "outbound" not in kinds[f.id]
            )
            nrts = m.next_response_times(f)
            yield [
                *(r[name] for name in fields),
                m.first_response_time(f),
                sum(nrts) / len(nrts) if nrts else None,
                m.resolution_time(f),
                m.handle_time(f) if f.handling else None,
                _sla_met(f.first_response_at, f.first_response_due_at, now),
                _sla_met(f.resolved_at, f.resolution_due_at, now),
                f.bot_resolved,
            ]


def customer_rows(*, workspace: Workspace, filters: DashboardFilters) -> Iterator[list[Any]]:
    """One list per customer (tier and language filters apply), with their conversations
    started and revenue (orders placed, default currency) in the period."""
    start, end = filters.period.start, filters.period.end
    qs = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    if filters.tier_value is not None:
        qs = qs.filter(value_tier=filters.tier_value)
    if filters.language:
        qs = qs.filter(locale=filters.language)
    customers = qs.order_by("pk").values(
        "id", "external_id", "name", "locale", "value_tier", "orders_count",
        "lifetime_spend", "last_order_at",
    ).iterator(chunk_size=CHUNK)  # fmt: skip
    while chunk := list(islice(customers, CHUNK)):
        ids = [c["id"] for c in chunk]
        counts = dict(
            conversation_queryset(workspace=workspace, filters=filters)
            .filter(customer_id__in=ids)
            .values("customer_id")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("customer_id", "n")
        )
        spent = dict(
            Customer.objects.filter(pk__in=ids)
            .filter(
                orders__placed_at__gte=start,
                orders__placed_at__lt=end,
                orders__currency=workspace.default_currency,
            )
            .exclude(orders__status__in=EXCLUDED)
            .values("id")
            .annotate(total=Sum("orders__total"))
            .order_by()
            .values_list("id", "total")
        )
        for c in chunk:
            yield [
                c["id"],
                c["external_id"],
                c["name"],
                c["locale"],
                c["value_tier"],
                c["orders_count"],
                _money(c["lifetime_spend"]),
                c["last_order_at"],
                counts.get(c["id"], 0),
                _money(spent.get(c["id"])),
            ]


def _money(value: Decimal | None) -> Decimal:
    # Sums come back without trailing zeros on some databases; money reads with two decimals.
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    text = str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection); numbers are safe.
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_lines(columns: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    """The header line, then one CSV line per row, each produced when asked for."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(columns)
    for row in rows:
        yield line([_cell(v) for v in row])


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def parquet_bytes(columns: list[str], rows: Iterator[list[Any]]) -> bytes:
    """The rows as one Parquet file, its columns typed from the values (strings when empty)."""
    pa: Any = importlib.import_module("pyarrow")
    pq: Any = importlib.import_module("pyarrow.parquet")

    sink = pa.BufferOutputStream()
    writer = None
    while batch := list(islice(rows, CHUNK)):
        data = {
            name: [str(v) if isinstance(v, Decimal) else v for v in column]
            for name, column in zip(columns, zip(*batch, strict=True), strict=True)
        }
        table = pa.table(data)
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema)
        writer.write_table(table.cast(writer.schema))
    if writer is None:
        writer = pq.ParquetWriter(sink, pa.schema([(c, pa.string()) for c in columns]))
    writer.close()
    return bytes(sink.getvalue().to_pybytes())
