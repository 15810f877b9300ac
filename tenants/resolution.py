"""Host name → tenant, cached in process and validated on every request.

The cache maps a host name to ``(tenant, generation)``. A database trigger bumps
``RoutingGeneration`` whenever any tenant or domain row changes; the per-request routing
statement (``DatabaseWrapper.route_to``) returns the current generation, and an entry
loaded under an older generation is discarded and reloaded. So a hit costs one SQL
statement (which also sets the search_path), and no process serves a moved domain, a
suspended tenant or a changed plan from a stale entry.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from cachetools import LRUCache
from django.conf import settings
from django.db.models.expressions import RawSQL
from django_tenants.postgresql_backend.base import FakeTenant
from django_tenants.utils import get_public_schema_name

from tenants.models import Domain, Tenant
from tenants.postgresql_backend.base import tenant_connection

# RFC 1123 host names (labels of letters, digits and inner hyphens), lower-cased.
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_GENERATION_SQL = "SELECT generation FROM public.tenants_routinggeneration WHERE id = 1"


@dataclass(frozen=True)
class Route:
    """Where a request goes: a tenant, the public site, or nowhere (unknown host)."""

    tenant: Tenant | None
    is_public: bool

    @property
    def found(self) -> bool:
        return self.is_public or self.tenant is not None


NOT_FOUND = Route(tenant=None, is_public=False)


def normalise_host(raw_host: str) -> str | None:
    """The lower-cased host name without port, or None if it is not a valid host name."""
    host = raw_host.strip().lower()
    if host.startswith("["):  # IPv6 literal: never a tenant
        return None
    host = host.rsplit(":", 1)[0] if ":" in host else host
    host = host.rstrip(".")
    return host if _HOST_RE.match(host) else None


def public_hosts() -> frozenset[str]:
    root = settings.ROOT_DOMAIN
    return frozenset({root, f"www.{root}"})


class TenantResolver:
    """Bounded, thread-safe, generation-checked host → tenant cache (one per process).

    Known hosts and unknown hosts are kept in separate LRUs, so a flood of random Host
    headers can evict only other unknown hosts, never a tenant. Statements per request:
    a cached host (known or unknown) costs 1, a first sight 3, a stale entry 4.
    """

    def __init__(self, maxsize: int, unknown_maxsize: int = 1024) -> None:
        self._entries: LRUCache[str, tuple[Tenant, int]] = LRUCache(maxsize=maxsize)
        self._unknown: LRUCache[str, int] = LRUCache(maxsize=unknown_maxsize)
        self._lock = threading.Lock()
        self._public = FakeTenant(schema_name=get_public_schema_name())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._unknown.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def cached_tenant(self, host: str | None) -> Tenant | None:
        """The tenant cached for ``host``, without SQL and without validating it (that is
        ``route``'s job); None if this process has not resolved it to a tenant yet."""
        if host is None:
            return None
        with self._lock:
            cached = self._entries.get(host)
        return cached[0] if cached is not None else None

    def route(self, host: str | None) -> Route:
        """Resolve ``host`` and switch the connection to its schema (public if unknown)."""
        db = tenant_connection()
        if host is None:
            db.route_to(self._public)
            return NOT_FOUND
        if host in public_hosts():
            db.route_to(self._public)
            return Route(tenant=None, is_public=True)

        with self._lock:
            cached = self._entries.get(host)
            unknown_at = self._unknown.get(host) if cached is None else None
        if cached is not None or unknown_at is not None:
            tenant, loaded_at = cached if cached is not None else (None, unknown_at)
            generation = db.route_to(tenant if tenant is not None else self._public)
            if generation == loaded_at:
                return Route(tenant=tenant, is_public=False) if tenant else NOT_FOUND
            # Something changed since this entry was loaded; everything cached may be stale.
            self.clear()

        db.route_to(self._public)
        loaded, generation = self._load(host)
        with self._lock:
            if loaded is None:
                self._unknown[host] = generation
            else:
                self._entries[host] = (loaded, generation)
        if loaded is None:
            return NOT_FOUND
        db.route_to(loaded)
        return Route(tenant=loaded, is_public=False)

    @staticmethod
    def _load(host: str) -> tuple[Tenant | None, int]:
        domain = (
            Domain.objects.select_related("tenant", "tenant__plan")
            .filter(domain=host)
            # Read in the same statement as the row, so the pair is one consistent snapshot.
            .annotate(_generation=RawSQL(_GENERATION_SQL, []))  # noqa: S611 - constant SQL
            .first()
        )
        if domain is None:
            return None, _current_generation()
        tenant = domain.tenant
        tenant.domain_url = host
        return tenant, int(domain._generation or 0)


def _current_generation() -> int:
    with tenant_connection().cursor() as cursor:
        cursor.execute(_GENERATION_SQL)
        row = cursor.fetchone()
    return int(row[0] if row and row[0] is not None else 0)


resolver = TenantResolver(maxsize=getattr(settings, "TENANT_RESOLUTION_CACHE_SIZE", 10_000))
