"""Visiting many schemas from one process without growing PostgreSQL's memory.

A PostgreSQL backend caches the catalog entries (relations, indexes, types) of every
table it has touched, per connection, for as long as the connection lives, and never
evicts them. A process that walks thousands of tenant schemas on one connection (a
Celery worker, ``run_for_tenants``, a sweep that reads tenant data) grows that
cache by every schema's tables, until the server runs out of memory. The cure is to
open a fresh connection every N schemas: ``ConnectionRecycler`` counts the distinct
schemas the current connection has visited and closes it once they reach
``TENANT_SCHEMAS_PER_CONNECTION``; Django reconnects on the next query.
``tests/benchmarks/celery_bench.py`` measures the effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import connections


class ConnectionRecycler:
    """Close the connection ``alias`` after it has visited ``every`` distinct schemas."""

    def __init__(self, every: int | None = None, alias: str = "default") -> None:
        self._every = every
        self.alias = alias
        self.recycles = 0
        self._seen: set[str] = set()
        self._raw: object | None = None

    @property
    def every(self) -> int:
        if self._every is not None:
            return self._every
        return int(getattr(settings, "TENANT_SCHEMAS_PER_CONNECTION", 100))

    @every.setter
    def every(self, value: int | None) -> None:
        self._every = value

    def visited(self, schema_name: str) -> None:
        """Note that the connection is on (or about to query) ``schema_name``."""
        raw = connections[self.alias].connection
        if raw is not None:
            if self._raw is not None and raw is not self._raw:
                # Reconnected meanwhile (CONN_MAX_AGE, an error): a fresh catalog cache.
                self._seen.clear()
            self._raw = raw
        self._seen.add(schema_name)

    @property
    def visited_count(self) -> int:
        return len(self._seen)

    def maybe_recycle(self) -> bool:
        """Close the connection if it has seen enough schemas (never inside a transaction,
        where closing would lose the caller's work). Returns whether it closed it."""
        db = connections[self.alias]
        if self.every <= 0 or len(self._seen) < self.every or db.in_atomic_block:
            return False
        db.close()
        self._seen.clear()
        self._raw = None
        self.recycles += 1
        return True


def walk_schemas(schemas: Iterable[str], *, every: int | None = None) -> Iterator[str]:
    """Yield each schema name with the default connection switched to it, recycling the
    connection every ``every`` schemas; the connection is back on public afterwards."""
    from tenants.postgresql_backend.base import tenant_connection

    db = tenant_connection()
    recycler = ConnectionRecycler(every)
    try:
        for schema_name in schemas:
            db.set_schema(schema_name)
            yield schema_name
            recycler.visited(schema_name)
            recycler.maybe_recycle()
    finally:
        db.set_schema_to_public()
