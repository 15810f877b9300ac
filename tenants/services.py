"""Writes to tenants outside of provisioning: suspension, resumption, deletion, and the
end of a canceled tenant's retention period."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.core.errors import Conflict
from tenants.models import Tenant, TenantEvent, TenantEventAction, TenantStatus
from tenants.schema_ddl import schema_drop


@transaction.atomic
def tenant_set_status(
    *, tenant: Tenant, status: TenantStatus, acting_user: User | None, reason: str = ""
) -> Tenant:
    """Move ``tenant`` to ``status`` and record who did it. Routing caches everywhere are
    invalidated by the database trigger on the tenant table."""
    previous = tenant.status
    if previous == status:
        return tenant
    tenant.status = status
    tenant.status_changed_at = timezone.now()
    tenant.save(update_fields=["status", "status_changed_at", "updated"])
    TenantEvent.objects.create(
        tenant=tenant,
        actor=acting_user,
        action=TenantEventAction.TENANT_STATUS_CHANGED,
        detail={"from": previous, "to": status, "reason": reason},
    )
    return tenant


def tenant_suspend(*, tenant: Tenant, acting_user: User | None, reason: str = "") -> Tenant:
    """Make the tenant read-only (writes get 402 ``tenant_suspended``)."""
    if tenant.status == TenantStatus.CANCELED:
        raise Conflict("A canceled tenant cannot be suspended.")
    return tenant_set_status(
        tenant=tenant, status=TenantStatus.SUSPENDED, acting_user=acting_user, reason=reason
    )


def tenant_resume(*, tenant: Tenant, acting_user: User | None, reason: str = "") -> Tenant:
    """Give a suspended tenant full access again."""
    if tenant.status != TenantStatus.SUSPENDED:
        raise Conflict("Only a suspended tenant can be resumed.")
    return tenant_set_status(
        tenant=tenant, status=TenantStatus.ACTIVE, acting_user=acting_user, reason=reason
    )


@transaction.atomic
def tenant_destroy(*, tenant: Tenant) -> None:
    """Drop the tenant's schema and delete its rows (domain, organisation, memberships).
    Irreversible: callers (retention job, tests) are responsible for keeping an export."""
    organization = tenant.organization
    schema_name = tenant.schema_name
    tenant.domains.all().delete()
    tenant.events.all().delete()
    Tenant.objects.filter(pk=tenant.pk).delete()
    organization.delete()
    with connection.cursor() as cursor:
        # Run deferred FK checks now: a table with pending trigger events cannot be dropped.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_drop(schema_name)


def tenants_canceled_purge(*, now: dt.datetime | None = None) -> list[str]:
    """Delete tenants canceled longer ago than ``BILLING_CANCELED_RETENTION_DAYS``, after
    keeping a final export of their orders in storage. Returns the schemas dropped."""
    from tenant_apps.exports.models import ExportKind
    from tenant_apps.exports.services import export_final

    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.BILLING_CANCELED_RETENTION_DAYS)
    dropped = []
    for tenant in Tenant.objects.filter(status=TenantStatus.CANCELED, status_changed_at__lt=cutoff):
        with tenant_context(tenant):
            export_final(kind=ExportKind.ORDERS_CSV)
        tenant_destroy(tenant=tenant)
        dropped.append(tenant.schema_name)
    return dropped
