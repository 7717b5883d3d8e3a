"""Many new rows of one model inserted with PostgreSQL's COPY.

`bulk_create` spends most of its time in Python for the batches the intake worker writes
(messages, conversations, their events, timeline entries, outbox events): it builds the
statement's SQL and parameters value by value and psycopg's client-side binding then dumps
every value again, ~40-50 µs a row in the worker's profile. `insert_rows` reserves the new
rows' ids from the table's sequence in one query and sends the rows with COPY, whose rows
psycopg writes in C: ~10 µs a row. Same contract as `bulk_create` without options: every
object gets its primary key and is marked saved; a related object saved after it was
assigned (a message's conversation created in the same batch) lends its new id; a row that
breaks a constraint raises IntegrityError and the transaction's statement fails as a whole.
Elsewhere than on PostgreSQL, and for a handful of rows (where a second round trip costs
more than it saves), it is `bulk_create`. (django-bulk-load does this on psycopg2 only.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.expressions import DatabaseDefault

M = TypeVar("M", bound=models.Model)

# Below this many rows the two round trips (ids, then COPY) cost more than bulk_create's one.
COPY_FROM = 8


def insert_rows(model: type[M], rows: Sequence[M], *, copy_from: int = COPY_FROM) -> list[M]:
    """Insert `rows` (new instances of `model`) and return them with their primary keys."""
    rows = list(rows)
    if not rows:
        return rows
    # The wrapper itself, not django.db.connection's per-access lookup of it (one per value).
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or len(rows) < copy_from or _has_db_defaults(rows):
        return model._default_manager.bulk_create(rows)
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if not f.generated]
    for row in rows:
        # What bulk_create does first: take the ids of related rows saved since assignment.
        row._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    missing = [row for row in rows if row.pk is None]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        if missing:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, pk.column, len(missing)],
            )
            # In the rows' order, as bulk_create's RETURNING numbers them.
            for row, (new_id,) in zip(missing, sorted(cursor.fetchall()), strict=True):
                row.pk = new_id
        columns = ", ".join(quote(str(f.column)) for f in fields)
        # COPY is not part of the DB-API: psycopg's own cursor under Django's wrapper, whose
        # errors it turns into Django's (IntegrityError).
        sql = f"COPY {table} ({columns}) FROM STDIN"
        try:
            kinds = [plain_type(f) for f in fields]
            prepared = [
                [
                    prepared_value(f, kind, f.pre_save(row, True), connection)
                    for f, kind in zip(fields, kinds, strict=True)
                ]
                for row in rows
            ]
            with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
                for values in prepared:
                    copy.write_row(values)
        except BaseException:
            for row in missing:  # not stored: unsaved again, as bulk_create leaves them
                row.pk = None
            raise
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias
    return rows


def plain_type(field: models.Field[Any, Any]) -> type | None:
    """The Python type whose values `field` sends to PostgreSQL as they are (its
    get_db_prep_save returns them unchanged), or None: every value goes through it."""
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, models.IntegerField):  # the auto fields too
        return int
    if isinstance(field, models.CharField | models.TextField):
        return str
    if isinstance(field, models.DateTimeField):
        return dt.datetime
    return None


def prepared_value(
    field: models.Field[Any, Any], kind: type | None, value: Any, connection: Any
) -> Any:
    """`field.get_db_prep_save(value)`, skipped for the common values it leaves unchanged (a
    row has a dozen; the call costs a few µs each)."""
    # A naive datetime still goes through it: made aware, with Django's warning.
    if value is None or (type(value) is kind and getattr(value, "tzinfo", True) is not None):
        return value
    return field.get_db_prep_save(value, connection)


def _has_db_defaults(rows: Sequence[models.Model]) -> bool:
    """A value the database fills in (`db_default`) is bulk_create's to send as DEFAULT."""
    fields = [f for f in rows[0]._meta.concrete_fields if f.has_db_default()]
    return any(isinstance(getattr(row, f.attname), DatabaseDefault) for row in rows for f in fields)
