"""Every PostgreSQL advisory lock key of Tessera, and the two ways to take one.

A key is either one bigint (a lock for a whole subsystem) or a (namespace, name) pair:
the two-key form, whose int4 namespace keeps names of one subsystem from colliding with
another's (PostgreSQL keeps the one-key and two-key spaces apart). A name is turned
into the second int4 by ``name_key`` (CRC-32, the same in every process). Add new keys
here, never as a number at the call site.

* ``try_xact_lock`` holds a lock for a block on a connection of its own (pooler-safe,
  ADR 0014) and yields whether it got it: one spare-pool filler, one ``migrate_tenants``,
  one fan-out dispatcher per job.
* ``xact_lock`` waits for a lock held until the current transaction of the default
  connection ends: concurrent additions against one plan limit queue up.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from typing import cast

# One-key locks (bigint).
SPARE_POOL = 0x7E55E4A0001  # one filler of the spare-schema pool at a time
MIGRATE_TENANTS = 0x7E55E4A0002  # one migrate_tenants run at a time
# Two-key namespaces (int4), each with a name: (namespace, name_key(name)).
FANOUT_JOB = 0x7E55F0  # one dispatcher per fan-out job
PLAN_LIMIT = 7341  # per (tenant schema, limit): additions against one plan limit queue
SEAT_PUSH = 7342  # per tenant: its Stripe seat-quantity pushes take turns


def name_key(name: str) -> int:
    """The int4 second key of a two-key lock for ``name``."""
    return zlib.crc32(name.encode()) - 2**31


def _key(key: int, name: str | None) -> tuple[str, list[int]]:
    if name is None:
        return "%s", [key]
    return "%s, %s", [key, name_key(name)]


@contextlib.contextmanager
def try_xact_lock(key: int, name: str | None = None) -> Iterator[bool]:
    """Try to take the lock (``key``, or ``key`` and ``name``) for the block; yields
    whether it was acquired.

    Transaction-level, on a connection of its own held in one open transaction for the
    block: a session-level advisory lock is not safe behind a transaction pooler (it stays
    with whichever server connection took it, which the pooler then hands to others, and
    "unlock" may land on another one). Ending the transaction -- or the process dying,
    which ends its connection -- releases the lock. The block's own work runs on the
    default connection, in as many transactions as it likes.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    from tenants.postgresql_backend.base import DatabaseWrapper

    key_sql, params = _key(key, name)
    holder = cast("DatabaseWrapper", connections.create_connection(DEFAULT_DB_ALIAS))
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            # The holder idles in its transaction for the whole block: exempt it from
            # idle_in_transaction_session_timeout (which would end it, and free the lock).
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(" + key_sql + "),"
                " set_config('idle_in_transaction_session_timeout', '0', true)",
                params,
            )
            acquired = bool(cursor.fetchone()[0])
        yield acquired
    finally:
        with contextlib.suppress(Exception):
            holder.rollback()
        holder.close()


def xact_lock(key: int, name: str | None = None) -> None:
    """Wait for the lock, held until the default connection's transaction ends."""
    from django.db import connection

    key_sql, params = _key(key, name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(" + key_sql + ")", params)
