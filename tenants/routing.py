"""The one cache of tenants, validated by the routing generation (ADR 0005).

A database trigger bumps ``RoutingGeneration`` whenever any tenant or domain row
changes. The routing statement that switches a connection to a schema
(``DatabaseWrapper.route_to``) also returns the current generation, so a cached tenant
is validated by the statement the work needs anyway: an entry loaded under an older
generation means *something* changed, the whole cache is dropped and the tenant is
loaded again (with the generation read in the same statement as the row).

Two instances, one class: the web's host → tenant cache (``tenants.resolution``) and
the worker's schema name → tenant cache (``tenants.background.tasking``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cachetools import LRUCache

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from tenants.models import Tenant

# The routing generation (ADR 0005), bumped by a trigger on every tenant or domain change:
# the one spelling of the query (the backend's routing statement embeds it too). This
# module imports nothing of Django's at import time, so the backend can import it.
GENERATION_SQL = "SELECT generation FROM public.tenants_routinggeneration WHERE id = 1"

K = TypeVar("K")
#: Loads a key's tenant (None: no such tenant) and the generation it was read under.
Loader = Callable[[Any], "tuple[Tenant | None, int]"]


def current_generation() -> int:
    """The routing generation now (one statement)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(GENERATION_SQL)
        row = cursor.fetchone()
    return int(row[0] if row and row[0] is not None else 0)


def first_with_generation(queryset: QuerySet) -> tuple[Any | None, int]:
    """The queryset's first row and the routing generation, read in one statement (one
    consistent snapshot); the generation alone when there is no row."""
    from django.db.models.expressions import RawSQL

    row = queryset.annotate(_generation=RawSQL(GENERATION_SQL, [])).first()  # noqa: S611 - constant SQL
    if row is None:
        return None, current_generation()
    return row, int(row._generation or 0)


class GenerationCache(Generic[K]):
    """Bounded, thread-safe key → tenant cache, validated by the routing generation.

    ``activate(key)`` switches the connection to the key's tenant and returns it, or
    switches to public and returns None when there is no such tenant. A hit costs one
    statement, the switch itself. Keys without a tenant are remembered too, in an LRU
    of their own, so a flood of unknown keys (random Host headers, a deleted tenant's
    backlog) costs one statement each and can evict only other unknown keys.
    """

    def __init__(self, load: Loader, *, maxsize: int, unknown_maxsize: int = 1024) -> None:
        self._load = load
        self._entries: LRUCache[K, tuple[Tenant, int]] = LRUCache(maxsize=maxsize)
        self._unknown: LRUCache[K, int] = LRUCache(maxsize=unknown_maxsize)
        self._lock = threading.Lock()

    @functools.cached_property
    def _public(self) -> Any:
        from django_tenants.postgresql_backend.base import FakeTenant
        from django_tenants.utils import get_public_schema_name

        return FakeTenant(schema_name=get_public_schema_name())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._unknown.clear()

    def __len__(self) -> int:
        """How many keys with a tenant are cached."""
        return len(self._entries)

    @property
    def unknown_count(self) -> int:
        """How many keys without a tenant are remembered."""
        return len(self._unknown)

    def peek(self, key: K) -> tuple[Tenant, int] | None:
        """The cached tenant and the generation it was loaded at, without any statement
        (so not validated: the caller checks the generation itself)."""
        with self._lock:
            return self._entries.get(key)

    def activate(self, key: K) -> Tenant | None:
        from tenants.postgresql_backend.base import tenant_connection

        db = tenant_connection()
        with self._lock:
            cached = self._entries.get(key)
            unknown_at = self._unknown.get(key) if cached is None else None
        if cached is not None or unknown_at is not None:
            tenant, loaded_at = cached if cached is not None else (None, unknown_at)
            if db.route_to(tenant if tenant is not None else self._public) == loaded_at:
                return tenant
            # Something changed since this entry was loaded; everything cached may be stale.
            self.clear()
        db.route_to(self._public)
        loaded, generation = self._load(key)
        with self._lock:
            if loaded is None:
                self._unknown[key] = generation
            else:
                self._entries[key] = (loaded, generation)
        if loaded is None:
            return None
        db.route_to(loaded)
        return loaded
