"""django-tenants' PostgreSQL backend, plus one combined statement for request routing.

Stock django-tenants pays two extra round trips on every tenant request: the domain
lookup and ``SET search_path``. Tessera caches the lookup in process and replaces the
``SET`` with a single statement that both sets the search_path and reads the routing
generation, so the cache is validated for free (see ``tenants.resolution``).
"""

from __future__ import annotations

import time
from typing import cast

import psycopg
from django.conf import settings
from django.db.utils import InterfaceError, OperationalError
from django_tenants.postgresql_backend.base import (
    DatabaseWrapper as TenantDatabaseWrapper,
)
from django_tenants.utils import quote_schema_name

ROUTE_SQL = (
    "SELECT set_config('search_path', %s, false), "
    "(SELECT generation FROM public.tenants_routinggeneration WHERE id = 1)"
)


def tenant_connection() -> DatabaseWrapper:
    """``django.db.connection``, typed as this backend (it is the only one configured)."""
    from django.db import connection

    return cast("DatabaseWrapper", connection)


class DatabaseWrapper(TenantDatabaseWrapper):
    health_check_done: bool  # set by Django's BaseDatabaseWrapper (untyped there)

    def get_new_connection(self, conn_params):
        """Connect, retrying for up to ``DATABASE_CONNECT_RETRY_SECONDS`` while the server
        restarts or fails over, so that a request arriving then waits instead of failing:
        a restart costs only the queries in flight (CONN_HEALTH_CHECKS replaces the
        connections it broke)."""
        deadline = time.monotonic() + getattr(settings, "DATABASE_CONNECT_RETRY_SECONDS", 0)
        delay = 0.05
        while True:
            try:
                return super().get_new_connection(conn_params)
            except psycopg.OperationalError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def route_to(self, tenant) -> int:
        """Switch this connection to ``tenant`` now and return the routing generation.

        Exactly one SQL statement. Later cursors in the request reuse the search_path
        (``TENANT_LIMIT_SET_CALLS``) until the tenant changes or a rollback discards it.

        On a connection kept from an earlier request, this statement is the request's
        first, and it doubles as Django's health check (``CONN_HEALTH_CHECKS``), which
        would otherwise send a ``SELECT 1`` of its own before it: if the connection turns
        out to be dead, it is closed and the statement runs once more on a new one, as
        the health check would have arranged.
        """
        self.set_tenant(tenant)
        search_paths = self._get_cursor_search_paths()
        search_path = ",".join(quote_schema_name(s) for s in search_paths)
        checking = (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.in_atomic_block
        )
        if checking:
            self.health_check_done = True
        try:
            generation = self._route_statement(search_path)
        except (OperationalError, InterfaceError):
            if not checking:
                raise
            self.close()
            generation = self._route_statement(search_path)
        self.search_path_set_schemas = search_paths
        return generation

    def _route_statement(self, search_path: str) -> int:
        # _handle_search_path() is a no-op while this flag is up, so opening the cursor
        # below does not issue its own SET first.
        self._setting_search_path = True
        try:
            with self.cursor() as cursor:
                cursor.execute(ROUTE_SQL, [search_path])
                generation = cursor.fetchone()[1]
        finally:
            self._setting_search_path = False
        return int(generation or 0)
