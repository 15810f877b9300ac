"""django-tenants' PostgreSQL backend, made safe behind a transaction-pooling proxy.

**The rule: every transaction begins with the routing statement.** A transaction pooler
(PgBouncer in transaction mode, RDS Proxy) hands each *transaction* whichever server
connection is free, so a session-level ``SET search_path`` (stock django-tenants, and
this backend before ADR 0014) holds only for the statements that happen to land on the
same server connection. Here the search_path is only ever set transaction-locally
(``set_config('search_path', ..., true)``), as the first statement of the transaction
that runs the work, so it holds for exactly that transaction, on whichever server
connection it lands; nothing ever sets it for a session. One code path, with and without
a pooler:

* psycopg's connection stays in autocommit mode for good, and this backend sends the
  ``BEGIN`` itself, in the same round trip as the routing statement
  (``BEGIN; SELECT set_config(...)``) -- psycopg would otherwise send a ``BEGIN`` of its
  own first. Django's transaction state (``atomic``, ``set_autocommit``) is unchanged.
* Inside a transaction, the first statement (and the first after a schema change or a
  savepoint rollback) is preceded by the routing statement, unless the work began with
  ``route_to``, which is it.
* A statement outside any transaction (Django's autocommit) is run in a transaction of
  its own: ``BEGIN; route``, the statement, ``COMMIT``. Requests never pay this (the
  middleware runs each request as one transaction, see ``unit_of_work``); background
  work and commands do, per statement, and stay correct without knowing about it.
  PostgreSQL refuses a few statements inside a transaction (``CREATE DATABASE``,
  ``VACUUM``, ``... CONCURRENTLY``); they run on their own, on the role's default path.

The request path keeps ADR 0005's single routing statement: ``route_to`` switches the
schema and returns the routing generation that validates the cached tenant, and on a
kept connection it is also Django's health check (``CONN_HEALTH_CHECKS``).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any, cast

import psycopg
from django.conf import settings
from django.db import transaction
from django.db.utils import InterfaceError, OperationalError
from django_tenants.postgresql_backend.base import (
    DatabaseWrapper as TenantDatabaseWrapper,
)
from django_tenants.utils import quote_schema_name
from psycopg import adapters
from psycopg.abc import Loader
from psycopg.postgres import types
from psycopg.pq import Format, TransactionStatus

from tenants.routing import GENERATION_SQL

ROUTE_SQL = f"SELECT set_config('search_path', %s, true), ({GENERATION_SQL})"
# The routing statement of a transaction that needs no generation (no cache to validate).
LOCAL_ROUTE_SQL = "SELECT set_config('search_path', %s, true)"
BEGIN = "BEGIN; "

# Statements PostgreSQL refuses to run inside a transaction block. They never depend on
# a tenant's search_path (databases, maintenance, concurrent index builds name their
# objects), so they run on their own.
_NOT_IN_TRANSACTION = re.compile(
    r"^\s*(VACUUM|CLUSTER|CHECKPOINT|(CREATE|DROP|ALTER)\s+(DATABASE|TABLESPACE|SUBSCRIPTION)"
    r"|ALTER\s+SYSTEM|REINDEX\s+(SYSTEM|DATABASE)|COMMIT\s+PREPARED|ROLLBACK\s+PREPARED)\b"
    r"|\bCONCURRENTLY\b",
    re.IGNORECASE,
)
_IDLE = TransactionStatus.IDLE
# ``SET TRANSACTION ...`` (isolation level, read only) has to come before any query.
_SET_TRANSACTION = re.compile(r"^\s*SET\s+TRANSACTION\b", re.IGNORECASE)


class UTCTimestamptzLoader:
    """psycopg's own ``timestamptz`` loader (its C one with ``psycopg[binary]``) for the
    connections of a UTC Django.

    Django registers a pure-Python subclass of psycopg's Python loader that parses each
    value and then replaces its zone with the connection's (about 5 % of a list request's
    CPU: every row's timestamps). psycopg's loader already returns the instant in the
    session's ``TimeZone``, which Django sets to UTC on every connection, and for UTC it
    uses the same ``datetime.timezone.utc`` object: the values are identical (and still
    the right instant if a session's zone ever differed, where Django's ``replace`` would
    shift them). The C class cannot be subclassed, so this class stands in for it in the
    adapters map: it carries the ``timezone`` Django's ``create_cursor`` compares before
    registering its own loader on a cursor, and instantiating it makes psycopg's."""

    format = Format.TEXT
    timezone = UTC
    _loader = cast("type[Loader]", adapters.get_loader(types["timestamptz"].oid, Format.TEXT))

    def __new__(cls, oid: int, context: Any = None) -> Loader:  # type: ignore[misc]
        return cls._loader(oid, context)


def with_psycopg_timestamptz_loader(params: dict, timezone: Any) -> dict:
    """Django's connection ``params`` with ``UTCTimestamptzLoader`` in their adapters, when
    Django's zone is UTC (otherwise Django's own loader stays)."""
    if settings.USE_TZ and timezone is UTC:
        params["context"].register_loader("timestamptz", UTCTimestamptzLoader)  # type: ignore[arg-type]
    return params


def tenant_connection() -> DatabaseWrapper:
    """``django.db.connection``, typed as this backend (it is the only one configured)."""
    from django.db import connection

    return cast("DatabaseWrapper", connection)


def _pool_wait_timed_out(exc: BaseException) -> bool:
    """PgBouncer gave up waiting for a free server connection (``query_wait_timeout``);
    RDS Proxy says "timed out waiting to acquire database connection". Not a dead
    connection: reconnecting would only wait again."""
    text = str(exc).lower()
    return "query_wait_timeout" in text or "timed out waiting" in text


class DatabaseWrapper(TenantDatabaseWrapper):
    health_check_done: bool  # set by Django's BaseDatabaseWrapper (untyped there)
    connection: Any  # psycopg.Connection, or None while closed
    search_path_set_schemas: list[str] | None  # the path this transaction has, if routed
    # The routing generation ``route_to`` read in the open transaction (None outside one,
    # or before it routed): what per-process caches keyed to it validate against for the
    # rest of the transaction (the membership cache, tenants.membership_cache).
    routing_generation: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._check_at_begin = False
        super().__init__(*args, **kwargs)
        # The outermost wrapper: it sees every statement Django's cursors run.
        self.execute_wrappers.insert(0, self._route_every_transaction)

    # Connecting ------------------------------------------------------------------------

    def get_connection_params(self) -> dict:
        return with_psycopg_timestamptz_loader(super().get_connection_params(), self.timezone)

    def get_new_connection(self, conn_params):
        """Connect, retrying for up to ``DATABASE_CONNECT_RETRY_SECONDS`` while the server
        (or the pooler) restarts or fails over, so that a request arriving then waits
        instead of failing: a restart costs only the queries in flight."""
        retry = self.settings_dict.get(
            "CONNECT_RETRY_SECONDS", getattr(settings, "DATABASE_CONNECT_RETRY_SECONDS", 0)
        )
        deadline = time.monotonic() + retry
        delay = 0.05
        while True:
            try:
                return super().get_new_connection(conn_params)
            except psycopg.OperationalError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def set_autocommit(self, autocommit, force_begin_transaction_with_broken_autocommit=False):
        if (
            autocommit
            and self.connection is None
            and not self.in_atomic_block
            and not self.run_commit_hooks_on_set_autocommit_on
        ):
            # Leaving a transaction whose connection died (its rollback failed and Django
            # closed it): nothing to switch, and a new connection starts in autocommit.
            # Django would reconnect here -- waiting out a restarting server -- before the
            # request could even answer that it failed.
            self.autocommit = True
            return
        super().set_autocommit(autocommit, force_begin_transaction_with_broken_autocommit)

    def _set_autocommit(self, autocommit: bool) -> None:
        # Django's transaction state only; psycopg stays in autocommit mode and the next
        # statement of a new transaction sends BEGIN together with the routing statement.
        self.search_path_set_schemas = None
        self.routing_generation = None
        if self.connection is not None and not self.connection.autocommit:
            with self.wrap_database_errors:
                self.connection.autocommit = True

    def _commit(self):
        self.search_path_set_schemas = None
        self.routing_generation = None
        return super()._commit()

    def _rollback(self):
        self.search_path_set_schemas = None
        self.routing_generation = None
        return super()._rollback()

    def _handle_search_path(self, cursor=None):
        """Never a session-level ``SET search_path`` (django-tenants' way): the path is
        set per transaction, by ``_route_every_transaction``."""

    def _search_path(self) -> tuple[list[str], str]:
        search_paths = self._get_cursor_search_paths()
        return search_paths, ",".join(quote_schema_name(s) for s in search_paths)

    # Routing -----------------------------------------------------------------------------

    def route_to(self, tenant) -> int:
        """Switch this connection to ``tenant`` now and return the routing generation.

        Exactly one SQL statement (with the transaction's ``BEGIN`` in the same round trip
        when it is the first). Inside a transaction, the path holds until the
        transaction ends, the tenant changes, or a savepoint rollback discards it. Outside
        one, it sets nothing lasting (each later statement is routed on its own) and only
        reads the generation.

        On a connection kept from an earlier request, this statement is the request's
        first, and it doubles as Django's health check (``CONN_HEALTH_CHECKS``), which
        would otherwise send a ``SELECT 1`` of its own before it: if the connection turns
        out to be dead, a new one replaces it and the statement runs once more, as the
        health check would have arranged.
        """
        self.set_tenant(tenant)
        search_paths, search_path = self._search_path()
        if self.autocommit:
            checking = (
                self.connection is not None
                and self.health_check_enabled
                and not self.health_check_done
            )
            if checking:
                self.health_check_done = True
        else:
            checking, self._check_at_begin = self._check_at_begin, False
        try:
            row = self._routing_statement(ROUTE_SQL, [search_path])
        except (OperationalError, InterfaceError) as exc:
            if not checking or _pool_wait_timed_out(exc):
                raise
            if self.autocommit:
                self.close()
            else:
                self._reconnect_before_begin()
            row = self._routing_statement(ROUTE_SQL, [search_path])
        assert row is not None  # a SELECT without FROM always returns its row
        generation = int(row[1] or 0)
        if not self.autocommit:
            self.search_path_set_schemas = search_paths
            self.routing_generation = generation
        return generation

    def run_unrouted(self, sql: str, params: Sequence[Any] = ()) -> tuple:
        """Run ``sql`` as it is and return its first row: a statement that reads no
        tenant data (catalog functions only, e.g. the replica's lag check), so it needs no
        routing and runs in autocommit or in the transaction already open."""
        self._setting_search_path = True
        try:
            with self.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        finally:
            self._setting_search_path = False

    def _routing_statement(self, sql: str, params: Sequence[Any]) -> tuple | None:
        # Our own statement: the execute wrapper lets it through as it is.
        self._setting_search_path = True
        try:
            with self.cursor() as cursor:
                begin = not self.autocommit and self.connection.pgconn.transaction_status == _IDLE
                cursor.execute(BEGIN + sql if begin else sql, params)
                if begin:
                    cursor.nextset()  # past BEGIN's empty result
                return cursor.fetchone()
        finally:
            self._setting_search_path = False

    def _reconnect_before_begin(self) -> None:
        """Replace a dead connection at the start of a transaction that has not sent
        anything yet (BEGIN travels with the routing statement), so the transaction can
        go ahead on the new one: Django's state is unchanged by construction."""
        with contextlib.suppress(Exception):
            self.connection.close()
        self.connection = None
        with self.wrap_database_errors:  # Django's OperationalError, as a connect raises it
            self.connection = self.get_new_connection(self.get_connection_params())
        self.connection.autocommit = True  # for good: BEGIN is ours to send
        self.init_connection_state()
        self.search_path_set_schemas = None

    def _route_every_transaction(self, execute, sql, params, many, context):
        """Execute wrapper: the statement runs in a transaction that began with the
        routing statement for the connection's current schema."""
        if self._setting_search_path:
            return execute(sql, params, many, context)
        self._check_at_begin = False
        if not self.autocommit:
            if (
                _SET_TRANSACTION.match(sql or "")
                and self.connection.pgconn.transaction_status == _IDLE
            ):
                # It must be the transaction's first statement: BEGIN travels with it,
                # and the next statement routes the (now open) transaction.
                self.search_path_set_schemas = None
                return execute(BEGIN + sql, params, many, context)
            if (
                self.search_path_set_schemas is None
                or self.connection.pgconn.transaction_status == _IDLE
            ):
                search_paths, search_path = self._search_path()
                self._routing_statement(LOCAL_ROUTE_SQL, [search_path])
                self.search_path_set_schemas = search_paths
            return execute(sql, params, many, context)
        if _NOT_IN_TRANSACTION.search(sql or ""):
            return execute(sql, params, many, context)
        # Autocommit: a transaction for this one statement. psycopg is in autocommit
        # mode, so BEGIN is ours (sent with the route) and COMMIT/ROLLBACK end it; Django's
        # own transaction state is not involved.
        _, search_path = self._search_path()
        self._setting_search_path = True
        try:
            with self.cursor() as cursor:
                cursor.execute(BEGIN + LOCAL_ROUTE_SQL, [search_path])
        finally:
            self._setting_search_path = False
        try:
            result = execute(sql, params, many, context)
        except BaseException:
            with contextlib.suppress(Exception):
                self.connection.rollback()
            raise
        with self.wrap_database_errors:
            self.connection.commit()
        return result

    # Units of work -------------------------------------------------------------------------

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[bool]:
        """Run the block as one transaction (yields True), the one a request runs in:
        its first statement -- ``route_to`` -- routes it, and on a kept connection is
        also the health check. Inside a transaction already open (tests, a caller's
        ``atomic``), the block joins it (yields False)."""
        if self.in_atomic_block:
            yield False
            return
        checking = (
            self.connection is not None and self.health_check_enabled and not self.health_check_done
        )
        if checking:
            # Entering atomic would send Django's SELECT 1; the routing statement is it.
            self.health_check_done = True
        try:
            with transaction.atomic(using=self.alias):
                self._check_at_begin = checking
                yield True
        finally:
            self._check_at_begin = False
