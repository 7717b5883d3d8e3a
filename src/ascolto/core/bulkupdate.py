"""Many rows updated by primary key in one statement.

Django's `bulk_update` builds a CASE WHEN per field and row; for a few hundred rows that
expression costs more CPU to build than the database spends running it (the intake worker's
profile: ~5 ms per row). On PostgreSQL `update_rows` sends one
`UPDATE ... FROM jsonb_to_recordset(%s)`: the rows' values as one JSON document, which Python
writes in C and PostgreSQL reads into the columns' own types. (A placeholder per value, the
form before, cost ~100 µs a conversation row in psycopg's client-side quoting; this ~25 µs.)
Elsewhere it is `bulk_update`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from ascolto.core.bulkinsert import plain_type, prepared_value

MAX_ROWS = 1000


def update_rows(
    model: type[models.Model],
    rows: Sequence[models.Model],
    fields: Sequence[str],
    *,
    only_if_newer: str | None = None,
) -> None:
    """Write `fields` of each row (by primary key). `only_if_newer`: one of `fields`, a
    date-time; a row is changed only where the stored value is null or older."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        if only_if_newer is None:
            model._default_manager.bulk_update(rows, list(fields))
            return
        assert list(fields) == [only_if_newer], "only_if_newer updates that one field"
        field = model._meta.get_field(only_if_newer)
        assert isinstance(field, models.Field)
        newest = models.Case(
            *(
                models.When(pk=row.pk, then=models.Value(getattr(row, only_if_newer)))
                for row in rows
            ),
            output_field=field,
        )
        model._default_manager.filter(pk__in=[row.pk for row in rows]).filter(
            models.Q(**{f"{only_if_newer}__isnull": True})
            | models.Q(**{f"{only_if_newer}__lt": newest})
        ).update(**{only_if_newer: newest})
        return
    _update_from_json(model, rows, fields, only_if_newer)


def _update_from_json(
    model: type[models.Model],
    rows: Sequence[models.Model],
    fields: Sequence[str],
    only_if_newer: str | None,
) -> None:
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    columns = [field for name in fields if isinstance(field := meta.get_field(name), models.Field)]
    assert len(columns) == len(fields), "only concrete fields"
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper, not the proxy's lookup per value
    quote = db.ops.quote_name

    def column(field: models.Field[Any, Any]) -> str:
        return quote(str(field.column))

    # JSON columns travel as their own serialised text, cast back in the SET.
    as_json = [isinstance(field, models.JSONField) for field in columns]
    record = ", ".join(
        [f"{column(pk)} {pk.db_type(db)}"]
        + [
            f"{column(field)} {'text' if is_json else field.db_type(db)}"
            for field, is_json in zip(columns, as_json, strict=True)
        ]
    )
    assignments = ", ".join(
        f"{column(field)} = v.{column(field)}{'::jsonb' if is_json else ''}"
        for field, is_json in zip(columns, as_json, strict=True)
    )
    condition = f"t.{column(pk)} = v.{column(pk)}"
    if only_if_newer is not None:
        newer = column(columns[list(fields).index(only_if_newer)])
        condition += f" AND (t.{newer} IS NULL OR t.{newer} < v.{newer})"
    keys = [str(pk.column), *(str(field.column) for field in columns)]
    specs = [
        (field, plain_type(field), is_json) for field, is_json in zip(columns, as_json, strict=True)
    ]
    with db.cursor() as cursor:
        for start in range(0, len(rows), MAX_ROWS):
            records = [
                dict(zip(keys, [row.pk, *(_value(*spec, row, db) for spec in specs)], strict=True))
                for row in rows[start : start + MAX_ROWS]
            ]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - names from the model
                f"FROM jsonb_to_recordset(%s::jsonb) AS v({record}) WHERE {condition}",
                [json.dumps(records, default=_json_scalar)],
            )


def _value(
    field: models.Field[Any, Any], kind: type | None, is_json: bool, row: models.Model, db: Any
) -> Any:
    value = getattr(row, field.attname)
    if is_json:
        # What the field would store, serialised with its own encoder; None is SQL NULL.
        return None if value is None else json.dumps(value, cls=field.encoder)  # type: ignore[attr-defined]
    return prepared_value(field, kind, value, db)


def _json_scalar(value: Any) -> str:
    """Database values JSON has no type for, in the text form PostgreSQL reads them from."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"update_rows cannot send a {type(value).__name__} value")
