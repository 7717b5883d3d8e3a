"""Timestamps read from PostgreSQL with psycopg's C parser.

Django's psycopg backend reads every `timestamptz` value through a loader that subclasses
psycopg's pure-Python one (to give each value the connection's time zone object), ~3.3 µs a
value; a conversation row holds fifteen of them, and the intake worker's profile spent a
tenth of its time there. psycopg's C loader cannot be subclassed, so `FastTzLoader` calls it
and sets the same time zone, ~1 µs a value, and the results are the same datetimes (tests:
tests/core/test_pgtypes.py). It is registered on each new PostgreSQL connection, with the
`timezone` attribute Django compares before each cursor (base.py `create_cursor`), so Django
keeps it instead of registering its own again.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db.backends.signals import connection_created


def _c_loader() -> Any:
    try:
        from psycopg import _cmodule

        return _cmodule._psycopg.TimestamptzLoader if _cmodule._psycopg else None
    except (ImportError, AttributeError):  # pure-Python psycopg: Django's loader stays
        return None


@functools.cache
def fast_loader(tz: dt.tzinfo | None) -> type[Any] | None:
    """A timestamptz loader class giving values the time zone `tz` (None: naive), or None
    without psycopg's C implementation."""
    c_loader = _c_loader()
    if c_loader is None:
        return None
    from psycopg.adapt import Loader

    class FastTzLoader(Loader):
        timezone = tz  # what Django's create_cursor compares with the connection's

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = c_loader(oid, context).load

        def load(self, data: Any) -> dt.datetime:
            value: dt.datetime = self._load(data)
            return value.replace(tzinfo=self.timezone)

    return FastTzLoader


def _register(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    loader = fast_loader(connection.timezone)
    if loader is not None:
        connection.connection.adapters.register_loader("timestamptz", loader)


def install() -> None:
    connection_created.connect(_register, dispatch_uid="ascolto-fast-timestamptz")
