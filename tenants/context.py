"""Which tenant: the one typed accessor.

The routing middleware (for a request) and the tenant task runner (for a Celery task)
switch the database connection to a tenant; that connection's tenant is the answer,
everywhere: views (through ``TenantAPIView.tenant``), authentication, services,
throttles, logs. Nothing else reads ``request.tenant``, ``connection.tenant`` or
``connection.schema_name`` to find out where it is.
"""

from __future__ import annotations

from django.db import connection

from tenants.models import Tenant


class NoActiveTenant(RuntimeError):
    """Tenant data was asked for while the connection is on the public schema."""


def current_tenant_or_none() -> Tenant | None:
    """The tenant whose schema this connection is on, or None on the public schema."""
    tenant = getattr(connection, "tenant", None)
    return tenant if isinstance(tenant, Tenant) else None


def current_tenant() -> Tenant:
    """The tenant whose schema this connection is on. Raises ``NoActiveTenant`` on public."""
    tenant = current_tenant_or_none()
    if tenant is None:
        raise NoActiveTenant("no tenant is active on this connection")
    return tenant
