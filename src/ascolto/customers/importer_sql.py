# ruff: noqa: S608  -- table names are module constants; values always go through parameters.
"""Set-based writes for imports: staging tables, upserts by external id, stats refresh.

One batch of validated records is loaded into a temporary staging table (COPY on PostgreSQL,
executemany on SQLite), checked against the database in SQL (identities owned by another
customer, merged profiles, unknown customers of orders), and written with
INSERT ... SELECT ... ON CONFLICT (workspace_id, external_id) DO UPDATE. Rows whose values did
not change are not rewritten. The caller wraps each batch in a transaction, so a batch is
written whole or not at all, and a row that fails a check is never half-written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection
from django.db.backends.utils import CursorWrapper

from ascolto.core.models import Workspace
from ascolto.customers.importer_rows import CustomerRecord, OrderRecord, RowError
from ascolto.customers.models import Activity, Customer, Identity, Order, OrderLine
from ascolto.customers.services.orders import NOT_SPENT

CUSTOMERS = Customer._meta.db_table
IDENTITIES = Identity._meta.db_table
ORDERS = Order._meta.db_table
LINES = OrderLine._meta.db_table
ACTIVITIES = Activity._meta.db_table

STAGE_CUSTOMERS = "ascolto_import_customers"
STAGE_IDENTITIES = "ascolto_import_identities"
STAGE_ORDERS = "ascolto_import_orders"
STAGE_LINES = "ascolto_import_lines"
STAGE_EXISTING = "ascolto_import_existing"
TOUCHED = "ascolto_import_touched"

_STAGE_DDL = {
    STAGE_CUSTOMERS: "row_no integer, external_id text, name text, locale text, timezone text, "
    "birthday date, value_tier text, attributes {json}, existed boolean DEFAULT FALSE",
    STAGE_IDENTITIES: "row_no integer, external_id text, kind text, value text",
    STAGE_ORDERS: "row_no integer, external_id text, customer_external_id text, status text, "
    "placed_at timestamptz, delivered_at timestamptz, promised_at timestamptz, "
    "total numeric(12, 2), currency text, metadata {json}, has_lines boolean",
    STAGE_EXISTING: "external_id text, order_id bigint, old_status text, old_customer_id bigint, "
    "customer_id bigint",
    STAGE_LINES: "order_external_id text, position integer, sku text, name text, "
    "quantity numeric(12, 3), unit_price numeric(12, 2)",
    TOUCHED: "customer_id bigint PRIMARY KEY",
}
# The staged columns a batch joins on (PostgreSQL). Whichever side the planner puts outside,
# the other is then probed through an index, so no plan reads a staging table once per row of
# the workspace (see SqlWriter._probe_by_index).
_STAGE_KEYS = {
    STAGE_CUSTOMERS: ("external_id",),
    STAGE_IDENTITIES: ("external_id", "kind, value"),
    STAGE_ORDERS: ("external_id", "customer_external_id"),
    STAGE_EXISTING: ("external_id",),
    STAGE_LINES: ("order_external_id",),
}


class ConcurrentWrite(IntegrityError):
    """Another transaction took a handle of this batch between its checks and its insert; the
    batch is rolled back and written again, and the repeat reports the row that lost."""


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


ORDER_STAGE_COLUMNS = (
    "row_no",
    "external_id",
    "customer_external_id",
    "status",
    "placed_at",
    "delivered_at",
    "promised_at",
    "total",
    "currency",
    "metadata",
    "has_lines",
)


class SqlWriter:
    """Writes batches for one import into one workspace, on the default connection.

    Preconditions: each batch has distinct external ids and distinct identity handles (the
    batcher in `importer` flushes before a repeat), and runs inside `transaction.atomic()`.
    """

    def __init__(
        self, *, workspace: Workspace, job_id: int | None = None, by_index: bool = False
    ) -> None:
        self.workspace = workspace
        self.ws = workspace.pk
        self.job_id = job_id
        self.postgres = connection.vendor == "postgresql"
        # Look keys up by index (`_probe_by_index`); the caller keeps statistics current.
        self.by_index = by_index and self.postgres
        self._created_tables: set[str] = set()

    # -- plumbing ------------------------------------------------------------------------------
    def _json_type(self) -> str:
        return "jsonb" if self.postgres else "text"

    def _stage(self, cursor: CursorWrapper, table: str) -> None:
        ddl = _STAGE_DDL[table].format(json=self._json_type())
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({ddl})")
        if self.postgres:
            for n, columns in enumerate(_STAGE_KEYS.get(table, ())):
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_k{n} ON {table} ({columns})")
        if table == TOUCHED:  # collects across batches
            return
        # TRUNCATE on PostgreSQL: deleted rows would stay in the table's pages (autovacuum
        # never visits temporary tables), so every batch would scan all earlier batches' rows,
        # and the planner would count them (seen: 1.1M rows estimated for a batch of 50,000).
        cursor.execute(f"TRUNCATE {table}" if self.postgres else f"DELETE FROM {table}")

    def _probe_by_index(self, cursor: CursorWrapper) -> None:
        """Have this batch's statements look its keys up through the indexes.

        A batch holds tens of thousands of keys and the tables hold millions of rows. Given the
        choice, PostgreSQL joins the staged keys to the whole workspace with a hash join,
        reading every customer and order of the workspace for every batch, so an import would
        slow down as it grows, quadratically (measured at 5M orders: 1.5 s against 55 ms for one
        batch's existing-order lookup). So hash and merge joins are off, and sequential scans
        and materialised inner sides too, and the staged keys are indexed (`_STAGE_KEYS`): every
        join is then a nested loop with an index probe on its inner side, whichever side the
        planner puts outside. That matters in the first batches of an import, planned on the
        statistics of tables that were empty (or held only other workspaces) when last
        analysed: the workspace looks a row or a few dozen large, and without those settings
        PostgreSQL read the staged rows once per customer, or scanned the identities once per
        staged row (measured: 230 s for the first batch of 50,000 customers instead of 4 s).
        `analyze` keeps the statistics current as the tables grow. SET LOCAL ends with the
        batch's transaction.
        """
        if self.by_index:
            cursor.execute(
                "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_material = off; "
                "SET LOCAL jit = off"
            )

    def analyze(self, kind: str) -> None:
        """Refresh the planner's statistics of the tables a batch of `kind` looks keys up in;
        called as an import grows them (autovacuum comes too late in the middle of a load)."""
        if not self.by_index:
            return
        tables = (CUSTOMERS, IDENTITIES) if kind == "customers" else (CUSTOMERS, ORDERS)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")

    def _now(self) -> Any:
        return self._dt(dt.datetime.now(dt.UTC))

    def db_now(self) -> Any:
        """The current time, in the form this database compares timestamps in."""
        return self._now()

    def _dt(self, value: dt.datetime | None) -> Any:
        if value is None or self.postgres:
            return value
        return connection.ops.adapt_datetimefield_value(value)

    def _date(self, value: dt.date | None) -> Any:
        if value is None or self.postgres:
            return value
        return value.isoformat()

    def _distinct(self, left: str, right: str) -> str:
        return f"{left} IS DISTINCT FROM {right}" if self.postgres else f"{left} IS NOT {right}"

    def _load(
        self,
        cursor: CursorWrapper,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> None:
        """Bulk-load rows into a staging table: COPY on PostgreSQL, executemany on SQLite."""
        names = ", ".join(columns)
        if self.postgres:
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append rows to a table in bulk (COPY on PostgreSQL). Datetimes must be aware."""
        if not rows:
            return
        if not self.postgres:
            rows = [
                tuple(self._dt(v) if isinstance(v, dt.datetime) else v for v in row) for row in rows
            ]
        with connection.cursor() as cursor:
            self._load(cursor, table, columns, rows)

    def _drop_rows(self, cursor: CursorWrapper, tables: Sequence[str], rows: Sequence[int]) -> None:
        for start in range(0, len(rows), 500):
            chunk = list(rows[start : start + 500])
            marks = ", ".join(["%s"] * len(chunk))
            for table in tables:
                cursor.execute(f"DELETE FROM {table} WHERE row_no IN ({marks})", chunk)

    def reset(self) -> None:
        """Drop this connection's staging tables; called before and after an import."""
        with connection.cursor() as cursor:
            for table in _STAGE_DDL:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")

    # -- customers -----------------------------------------------------------------------------
    def customers(self, records: Sequence[CustomerRecord]) -> BatchOutcome:
        outcome = BatchOutcome()
        if not records:
            return outcome
        now = self._now()
        with connection.cursor() as cursor:
            self._probe_by_index(cursor)
            self._stage(cursor, STAGE_CUSTOMERS)
            self._stage(cursor, STAGE_IDENTITIES)
            self._load(
                cursor,
                STAGE_CUSTOMERS,
                (
                    "row_no",
                    "external_id",
                    "name",
                    "locale",
                    "timezone",
                    "birthday",
                    "value_tier",
                    "attributes",
                ),
                (
                    (
                        r.row,
                        r.external_id,
                        r.name,
                        r.locale,
                        r.timezone,
                        self._date(r.birthday),
                        r.value_tier,
                        None if r.attributes is None else json.dumps(r.attributes),
                    )
                    for r in records
                ),
            )
            self._load(
                cursor,
                STAGE_IDENTITIES,
                ("row_no", "external_id", "kind", "value"),
                (
                    (r.row, r.external_id, kind, value)
                    for r in records
                    for kind, value in r.identities
                ),
            )
            conflicts, owned_rows = self._customer_conflicts(cursor)
            outcome.errors.extend(conflicts)
            failed = {e.row for e in outcome.errors}
            if failed:
                self._drop_rows(cursor, (STAGE_CUSTOMERS, STAGE_IDENTITIES), sorted(failed))
            # Handles the customer holds already are not inserted again.
            already_held = sum(1 for row in owned_rows if row not in failed)
            cursor.execute(
                f"UPDATE {STAGE_CUSTOMERS} SET existed = TRUE FROM {CUSTOMERS} c "
                f"WHERE c.workspace_id = %s AND c.external_id = {STAGE_CUSTOMERS}.external_id",
                [self.ws],
            )
            cursor.execute(
                f"SELECT COUNT(*), COUNT(*) FILTER (WHERE existed) FROM {STAGE_CUSTOMERS}"
            )
            total, existed = cursor.fetchone()
            cursor.execute(self._customer_upsert_sql(), [self.ws, now, now, now, self.ws])
            written = cursor.rowcount
            outcome.created = total - existed
            outcome.updated = written - outcome.created
            outcome.unchanged = total - written
            self._customer_activities(cursor, now)
            cursor.execute(
                f"INSERT INTO {IDENTITIES} (workspace_id, customer_id, kind, value, verified, "
                "is_primary, created_at, updated_at) "
                "SELECT %s, c.id, s.kind, s.value, FALSE, NOT EXISTS (SELECT 1 FROM "
                f"{IDENTITIES} p WHERE p.customer_id = c.id AND p.kind = s.kind), %s, %s "
                f"FROM {STAGE_IDENTITIES} s JOIN {CUSTOMERS} c ON c.workspace_id = %s "
                "AND c.external_id = s.external_id WHERE TRUE "
                "ON CONFLICT (workspace_id, kind, value) DO NOTHING",
                [self.ws, now, now, self.ws],
            )
            inserted = cursor.rowcount
            cursor.execute(f"SELECT COUNT(*) FROM {STAGE_IDENTITIES}")
            if inserted + already_held < cursor.fetchone()[0]:
                raise ConcurrentWrite("An identity of this batch was taken meanwhile.")
        return outcome

    def _customer_conflicts(self, cursor: CursorWrapper) -> tuple[list[RowError], list[int]]:
        """Staged handles held already: by another customer (an error for the row) and by the
        same customer (returned as the rows holding them)."""
        errors: list[RowError] = []
        owned: list[int] = []
        cursor.execute(
            f"SELECT s.row_no, s.external_id, s.kind, s.value, i.customer_id, c.external_id "
            f"FROM {STAGE_IDENTITIES} s JOIN {IDENTITIES} i ON i.workspace_id = %s "
            "AND i.kind = s.kind AND i.value = s.value "
            f"JOIN {CUSTOMERS} c ON c.id = i.customer_id",
            [self.ws],
        )
        field_of = {"email": "email", "phone": "phone", "whatsapp": "whatsapp"}
        for row, external_id, kind, value, owner_id, owner_ext in cursor.fetchall():
            if owner_ext == external_id:
                owned.append(row)
                continue
            owner = f"customer #{owner_id}" + (f" ({owner_ext})" if owner_ext else "")
            errors.append(
                RowError(
                    row,
                    field_of.get(kind, f"identities.{kind}"),
                    f"{kind} {value} already belongs to {owner}; merge the two profiles instead.",
                    external_id,
                )
            )
        cursor.execute(
            f"SELECT s.row_no, s.external_id, e.merged_into_id FROM {STAGE_CUSTOMERS} s "
            f"JOIN {CUSTOMERS} e ON e.workspace_id = %s AND e.external_id = s.external_id "
            "WHERE e.merged_into_id IS NOT NULL",
            [self.ws],
        )
        for row, external_id, merged_into in cursor.fetchall():
            errors.append(
                RowError(
                    row,
                    "external_id",
                    f"Customer {external_id!r} was merged into customer #{merged_into}; "
                    "import into that profile instead.",
                    external_id,
                )
            )
        return errors, owned

    def _customer_upsert_sql(self) -> str:
        if self.postgres:
            merged_attrs = (
                "jsonb_strip_nulls(COALESCE(e.attributes, '{}'::jsonb) "
                "|| COALESCE(s.attributes, '{}'::jsonb))"
            )
        else:
            # RFC 7396 merge patch: a null removes the key, exactly the services' rule.
            merged_attrs = "json_patch(COALESCE(e.attributes, '{}'), COALESCE(s.attributes, '{}'))"
        fields = ("name", "locale", "timezone", "birthday", "attributes", "value_tier")
        changed = " OR ".join(self._distinct(f"{CUSTOMERS}.{f}", f"excluded.{f}") for f in fields)
        return (
            f"INSERT INTO {CUSTOMERS} (workspace_id, external_id, name, locale, timezone, "
            "birthday, attributes, value_tier, lifetime_spend, orders_count, created_at, "
            "updated_at, last_activity_at) "
            "SELECT %s, s.external_id, COALESCE(s.name, e.name, ''), "
            "COALESCE(s.locale, e.locale, ''), COALESCE(s.timezone, e.timezone, ''), "
            f"COALESCE(s.birthday, e.birthday), {merged_attrs}, "
            "COALESCE(s.value_tier, e.value_tier, ''), 0, 0, %s, %s, %s "
            f"FROM {STAGE_CUSTOMERS} s LEFT JOIN {CUSTOMERS} e ON e.workspace_id = %s "
            "AND e.external_id = s.external_id WHERE TRUE ORDER BY s.row_no "
            "ON CONFLICT (workspace_id, external_id) WHERE external_id IS NOT NULL DO UPDATE SET "
            + ", ".join(f"{f} = excluded.{f}" for f in fields)
            + ", updated_at = excluded.updated_at "
            f"WHERE {changed}"
        )

    def _customer_activities(self, cursor: CursorWrapper, now: Any) -> None:
        data = json.dumps({"job_id": self.job_id} if self.job_id else {})
        cursor.execute(
            f"INSERT INTO {ACTIVITIES} (workspace_id, customer_id, kind, occurred_at, title, "
            "body, data, source_type, source_id, created_at, updated_at) "
            "SELECT %s, c.id, %s, %s, %s, '', %s, 'customer', CAST(c.id AS text), %s, %s "
            f"FROM {STAGE_CUSTOMERS} s JOIN {CUSTOMERS} c ON c.workspace_id = %s "
            "AND c.external_id = s.external_id WHERE NOT s.existed",
            [
                self.ws,
                Activity.Kind.CUSTOMER_CREATED.value,
                now,
                "Customer imported",
                data,
                now,
                now,
                self.ws,
            ],
        )

    # -- orders --------------------------------------------------------------------------------
    def orders(self, records: Sequence[OrderRecord]) -> BatchOutcome:
        outcome = BatchOutcome()
        if not records:
            return outcome
        now = self._now()
        with connection.cursor() as cursor:
            self._probe_by_index(cursor)
            for table in (STAGE_ORDERS, STAGE_LINES, STAGE_EXISTING, TOUCHED):
                self._stage(cursor, table)
            self._load(
                cursor,
                STAGE_ORDERS,
                ORDER_STAGE_COLUMNS,
                (
                    (
                        r.row,
                        r.external_id,
                        r.customer_external_id,
                        r.status,
                        self._dt(r.placed_at),
                        self._dt(r.delivered_at),
                        self._dt(r.promised_at),
                        r.total,
                        r.currency,
                        json.dumps(r.metadata) if r.metadata else "{}",
                        r.lines is not None,
                    )
                    for r in records
                ),
            )
            if any(r.lines for r in records):
                self._load(
                    cursor,
                    STAGE_LINES,
                    ("order_external_id", "position", "sku", "name", "quantity", "unit_price"),
                    (
                        (r.external_id, i, line.sku, line.name, line.quantity, line.unit_price)
                        for r in records
                        if r.lines
                        for i, line in enumerate(r.lines)
                    ),
                )
            outcome.errors.extend(self._unknown_customers(cursor))
            # Orders that exist already: their previous customer and status, for the stats of
            # a customer who loses an order and for the timeline entry of a status change.
            cursor.execute(
                f"INSERT INTO {STAGE_EXISTING} (external_id, order_id, old_status, "
                "old_customer_id, customer_id) "
                "SELECT s.external_id, o.id, o.status, o.customer_id, "
                f"COALESCE(c.merged_into_id, c.id) FROM {STAGE_ORDERS} s "
                f"JOIN {ORDERS} o ON o.workspace_id = %s AND o.external_id = s.external_id "
                f"JOIN {CUSTOMERS} c ON c.workspace_id = %s "
                "AND c.external_id = s.customer_external_id",
                [self.ws, self.ws],
            )
            existing = cursor.rowcount
            if existing:
                cursor.execute(
                    f"INSERT INTO {TOUCHED} (customer_id) SELECT DISTINCT old_customer_id "
                    f"FROM {STAGE_EXISTING} WHERE old_customer_id <> customer_id "
                    "ON CONFLICT (customer_id) DO NOTHING"
                )
                self._order_status_activities(cursor, now)
            cursor.execute(self._order_upsert_sql(), [self.ws, now, now, self.ws])
            written = cursor.rowcount
            total = len(records) - len({e.row for e in outcome.errors})
            outcome.created = total - existing
            outcome.updated = written - outcome.created
            outcome.unchanged = total - written
            if any(r.lines is not None for r in records):
                self._replace_lines(cursor)
        return outcome

    def _unknown_customers(self, cursor: CursorWrapper) -> list[RowError]:
        cursor.execute(
            f"SELECT s.row_no, s.external_id, s.customer_external_id FROM {STAGE_ORDERS} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {CUSTOMERS} c WHERE c.workspace_id = %s "
            "AND c.external_id = s.customer_external_id)",
            [self.ws],
        )
        errors = [
            RowError(
                row,
                "customer_external_id",
                f"No customer with external id {customer_ref!r}.",
                external_id,
            )
            for row, external_id, customer_ref in cursor.fetchall()
        ]
        if errors:
            self._drop_rows(cursor, (STAGE_ORDERS,), [e.row for e in errors])
            cursor.execute(
                f"DELETE FROM {STAGE_LINES} WHERE order_external_id NOT IN "
                f"(SELECT external_id FROM {STAGE_ORDERS})"
            )
        return errors

    def _order_upsert_sql(self) -> str:
        fields = (
            "customer_id",
            "status",
            "placed_at",
            "delivered_at",
            "promised_at",
            "total",
            "currency",
            "metadata",
        )
        changed = " OR ".join(self._distinct(f"{ORDERS}.{f}", f"excluded.{f}") for f in fields)
        return (
            f"INSERT INTO {ORDERS} (workspace_id, customer_id, external_id, status, placed_at, "
            "delivered_at, promised_at, total, currency, metadata, created_at, updated_at) "
            "SELECT %s, COALESCE(c.merged_into_id, c.id), s.external_id, s.status, s.placed_at, "
            "s.delivered_at, s.promised_at, s.total, s.currency, s.metadata, %s, %s "
            f"FROM {STAGE_ORDERS} s JOIN {CUSTOMERS} c ON c.workspace_id = %s "
            "AND c.external_id = s.customer_external_id WHERE TRUE ORDER BY s.row_no "
            "ON CONFLICT (workspace_id, external_id) DO UPDATE SET "
            + ", ".join(f"{f} = excluded.{f}" for f in fields)
            + f", updated_at = excluded.updated_at WHERE {changed}"
        )

    def _order_status_activities(self, cursor: CursorWrapper, now: Any) -> None:
        if self.postgres:
            data = "json_build_object('order_id', e.order_id, 'from', e.old_status, 'to', s.status)"
        else:
            data = "json_object('order_id', e.order_id, 'from', e.old_status, 'to', s.status)"
        source = (
            f"FROM {STAGE_EXISTING} e JOIN {STAGE_ORDERS} s ON s.external_id = e.external_id "
            "WHERE e.old_status <> s.status"
        )
        cursor.execute(
            f"INSERT INTO {ACTIVITIES} (workspace_id, customer_id, kind, occurred_at, title, "
            "body, data, source_type, source_id, created_at, updated_at) "
            "SELECT %s, e.customer_id, %s, %s, "
            "'Order ' || s.external_id || ': ' || e.old_status || %s || s.status, '', "
            f"{data}, 'order', CAST(e.order_id AS text), %s, %s {source}",
            [self.ws, Activity.Kind.ORDER_UPDATED.value, now, " → ", now, now],
        )
        cursor.execute(
            f"UPDATE {CUSTOMERS} SET last_activity_at = %s WHERE id IN "
            f"(SELECT e.customer_id {source})",
            [now],
        )

    def _replace_lines(self, cursor: CursorWrapper) -> None:
        cursor.execute(
            f"DELETE FROM {LINES} WHERE order_id IN (SELECT e.order_id FROM {STAGE_EXISTING} e "
            f"JOIN {STAGE_ORDERS} s ON s.external_id = e.external_id WHERE s.has_lines)"
        )
        cursor.execute(
            f"INSERT INTO {LINES} (order_id, sku, name, quantity, unit_price) "
            f"SELECT o.id, l.sku, l.name, l.quantity, l.unit_price FROM {STAGE_LINES} l "
            f"JOIN {ORDERS} o ON o.workspace_id = %s AND o.external_id = l.order_external_id "
            "WHERE TRUE ORDER BY l.order_external_id, l.position",
            [self.ws],
        )

    # -- stats ---------------------------------------------------------------------------------
    def touched_ids(self) -> list[int]:
        """The previous owners of moved orders this connection recorded."""
        with connection.cursor() as cursor:
            self._stage(cursor, TOUCHED)
            cursor.execute(f"SELECT customer_id FROM {TOUCHED}")
            return [row[0] for row in cursor.fetchall()]

    def collect_touched(self, since: Any, extra: Sequence[int] = ()) -> tuple[int, int, int]:
        """Gather the customers whose orders this import wrote (orders updated since the import
        started, plus the previous owners of moved orders, recorded here or passed as `extra`
        by other connections): (count, lowest id, highest id)."""
        with connection.cursor() as cursor:
            self._stage(cursor, TOUCHED)
            for start in range(0, len(extra), 1000):
                chunk = list(extra[start : start + 1000])
                marks = ", ".join(["(%s)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {TOUCHED} (customer_id) VALUES {marks} "
                    "ON CONFLICT (customer_id) DO NOTHING",
                    chunk,
                )
            cursor.execute(
                f"INSERT INTO {TOUCHED} (customer_id) SELECT DISTINCT customer_id FROM {ORDERS} "
                "WHERE workspace_id = %s AND updated_at >= %s ON CONFLICT (customer_id) DO NOTHING",
                [self.ws, since],
            )
            cursor.execute(f"SELECT COUNT(*), MIN(customer_id), MAX(customer_id) FROM {TOUCHED}")
            count, low, high = cursor.fetchone()
        return int(count), int(low or 0), int(high or 0)

    def refresh_stats(self, low: int, high: int) -> int:
        """Recompute lifetime spend, order count and last order time, set-based, for the touched
        customers with ids in [low, high] (the rule of `orders.customer_refresh_stats`).
        Returns how many customers changed."""
        currency = self.workspace.default_currency
        not_spent = list(NOT_SPENT)
        marks = ", ".join(["%s"] * len(not_spent))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CUSTOMERS} SET lifetime_spend = agg.spend, orders_count = agg.n, "
                "last_order_at = agg.last_at FROM (SELECT o.customer_id AS cid, "
                "COALESCE(SUM(o.total) FILTER (WHERE o.currency = %s "
                f"AND o.status NOT IN ({marks})), 0) AS spend, COUNT(*) AS n, "
                f"MAX(o.placed_at) AS last_at FROM {ORDERS} o WHERE o.customer_id IN "
                f"(SELECT customer_id FROM {TOUCHED} WHERE customer_id BETWEEN %s AND %s) "
                "GROUP BY o.customer_id) AS agg "
                f"WHERE {CUSTOMERS}.id = agg.cid AND ("
                + " OR ".join(
                    self._distinct(f"{CUSTOMERS}.{col}", f"agg.{alias}")
                    for col, alias in (
                        ("lifetime_spend", "spend"),
                        ("orders_count", "n"),
                        ("last_order_at", "last_at"),
                    )
                )
                + ")",
                [currency, *not_spent, low, high],
            )
            changed = cursor.rowcount
            cursor.execute(
                f"UPDATE {CUSTOMERS} SET lifetime_spend = 0, orders_count = 0, "
                f"last_order_at = NULL WHERE id IN (SELECT customer_id FROM {TOUCHED} "
                "WHERE customer_id BETWEEN %s AND %s) AND orders_count <> 0 AND NOT EXISTS "
                f"(SELECT 1 FROM {ORDERS} o WHERE o.customer_id = {CUSTOMERS}.id)",
                [low, high],
            )
            changed += cursor.rowcount
        return int(changed)
