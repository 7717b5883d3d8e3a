"""Timestamps read with psycopg's C parser (core/pgtypes.py) are the datetimes Django's own
loader gives."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ascolto.core.pgtypes import fast_loader

pytestmark = pytest.mark.django_db

TIMESTAMPTZ = 1184


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's timestamp loader")


def _loader_class() -> object:
    with connection.cursor() as cursor:
        return cursor.cursor.adapters.get_loader(TIMESTAMPTZ, 0)


def test_every_cursor_of_a_connection_reads_timestamps_with_the_c_parser() -> None:
    assert _loader_class() is fast_loader(connection.timezone)
    # Django compares the loader's time zone before each cursor and keeps ours.
    assert _loader_class() is fast_loader(connection.timezone)


@hypothesis_settings(max_examples=60)
@given(
    moments=st.lists(
        st.datetimes(
            min_value=dt.datetime(1, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.sampled_from(
                [
                    dt.UTC,
                    dt.timezone(dt.timedelta(hours=2)),
                    dt.timezone(-dt.timedelta(hours=9, minutes=30)),
                ]
            ),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_the_datetimes_read_are_those_djangos_loader_reads(moments: list[dt.datetime]) -> None:
    sql = "SELECT unnest(%s::timestamptz[])"
    with connection.cursor() as cursor:
        cursor.execute(sql, [moments])
        ours = [row[0] for row in cursor.fetchall()]
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)  # Django's own, on this cursor
        cursor.execute(sql, [moments])
        djangos = [row[0] for row in cursor.fetchall()]
    assert ours == djangos == moments
    assert [value.tzinfo for value in ours] == [value.tzinfo for value in djangos]
