"""Timestamps load through psycopg's own (C) loader, with the values Django's loader gives
(``tenants.postgresql_backend.base.UTCTimestamptzLoader``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

from tenants.postgresql_backend.base import UTCTimestamptzLoader

pytestmark = pytest.mark.django_db

TIMESTAMPTZ = psycopg.adapters.types["timestamptz"].oid
INSTANTS = [
    datetime(2026, 12, 1, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
]


def _load(cursor, values):
    cursor.execute("SELECT " + ", ".join(["%s::timestamptz"] * len(values)), [*values])
    return list(cursor.fetchone())


def test_the_connection_loads_timestamptz_with_psycopgs_c_loader():
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
        assert loader is UTCTimestamptzLoader  # Django's create_cursor kept it
        transformer = psycopg.adapt.Transformer.from_context(cursor.cursor)
        instance = transformer.get_loader(TIMESTAMPTZ, Format.TEXT)
    # psycopg[binary] is what pyproject pins: the C implementation, not Python's.
    assert psycopg.pq.__impl__ == "binary"
    assert type(instance).__module__ == "psycopg_binary._psycopg"


def test_values_are_the_ones_djangos_loader_gives_as_utc():
    with connection.cursor() as cursor:
        ours = _load(cursor, INSTANTS)
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)  # Django's own, on this cursor
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ, Format.TEXT) is not (
            UTCTimestamptzLoader
        )
        djangos = _load(cursor, INSTANTS)
    assert ours == djangos == INSTANTS
    assert all(value.tzinfo is UTC for value in ours)
    assert [v.isoformat() for v in ours] == [v.isoformat() for v in djangos]


def test_a_session_in_another_zone_still_loads_the_right_instant():
    # Django sets every session to UTC; should one ever differ (a pooler that lost the
    # setting), the instant is still right, where Django's loader would shift it.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Asia/Kolkata'")
        cursor.execute("SELECT %s::timestamptz", [INSTANTS[0]])
        (value,) = cursor.fetchone()
    assert value == INSTANTS[0]
    assert value.utcoffset() == timedelta(hours=5, minutes=30)
