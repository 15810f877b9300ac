"""The active tenant, as set by the routing middleware or the tenant-aware task runner."""

from __future__ import annotations

from django.db import connection

from tenants.models import Tenant


def current_tenant() -> Tenant:
    """The tenant whose schema this connection is on. Raises if it is on public."""
    tenant = getattr(connection, "tenant", None)
    if not isinstance(tenant, Tenant):
        raise RuntimeError("no tenant is active on this connection")
    return tenant
