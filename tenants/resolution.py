"""Host name → tenant, cached in process and validated on every request.

The cache (``tenants.routing.GenerationCache``, keyed by host name) is validated by the
routing generation that the per-request routing statement returns: a hit costs one SQL
statement (which also sets the search_path), and no process serves a moved domain, a
suspended tenant or a changed plan from a stale entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from tenants.models import Domain, Tenant
from tenants.postgresql_backend.base import tenant_connection
from tenants.routing import GenerationCache, first_with_generation

# RFC 1123 host names (labels of letters, digits and inner hyphens), lower-cased.
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


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


def _tenant_for_host(host: str) -> tuple[Tenant | None, int]:
    domain, generation = first_with_generation(
        Domain.objects.select_related("tenant", "tenant__plan").filter(domain=host)
    )
    if domain is None:
        return None, generation
    tenant = domain.tenant
    tenant.domain_url = host
    return tenant, generation


class TenantResolver:
    """Host → route, one per process: public hosts by name, tenants through a
    ``GenerationCache`` keyed by host name (bounded, thread-safe, generation-checked).

    Statements per request: a cached host (known or unknown) costs 1, a first sight 3,
    a stale entry 4.
    """

    def __init__(self, maxsize: int, unknown_maxsize: int = 1024) -> None:
        self.cache: GenerationCache[str] = GenerationCache(
            _tenant_for_host, maxsize=maxsize, unknown_maxsize=unknown_maxsize
        )

    @property
    def _public(self) -> Any:
        return self.cache._public

    def clear(self) -> None:
        self.cache.clear()

    def __len__(self) -> int:
        return len(self.cache)

    def cached_tenant(self, host: str | None) -> Tenant | None:
        """The tenant cached for ``host``, without SQL and without validating it (that is
        ``route``'s job); None if this process has not resolved it to a tenant yet."""
        if host is None:
            return None
        cached = self.cache.peek(host)
        return cached[0] if cached is not None else None

    def route(self, host: str | None) -> Route:
        """Resolve ``host`` and switch the connection to its schema (public if unknown)."""
        if host is None or host in public_hosts():
            tenant_connection().route_to(self._public)
            return NOT_FOUND if host is None else Route(tenant=None, is_public=True)
        tenant = self.cache.activate(host)
        return Route(tenant=tenant, is_public=False) if tenant is not None else NOT_FOUND


resolver = TenantResolver(maxsize=getattr(settings, "TENANT_RESOLUTION_CACHE_SIZE", 10_000))
