"""Background work of a tenant's data: the archive (tenant task), the daily deletion
purge and export expiry (public tasks), the owners' emails."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from billing.stripe_client import StripeUnavailable
from tenants.background.tasking import public_task, tenant_task

# Long enough for a large tenant's archive (100,000 orders: see ADR 0023 for figures).
EXPORT_SOFT_TIME_LIMIT = 1800


@tenant_task(
    name="tenants.data.tasks.build_data_export",
    queue="bulk",
    # Reads the tenant and writes only the (public) export row: a suspended or canceled
    # tenant can still take its data out.
    writes=False,
    soft_time_limit=EXPORT_SOFT_TIME_LIMIT,
    time_limit=EXPORT_SOFT_TIME_LIMIT + 60,
)
def build_data_export(export_id: int) -> str | None:
    from tenants.data.services import data_export_run

    export = data_export_run(export_id=export_id)
    return export.status if export else None


@public_task(name="tenants.data.tasks.expire_data_exports", queue="bulk")
def expire_data_exports() -> int:
    """Archives older than TENANT_DATA_EXPORT_DAYS: files removed (one public query)."""
    from tenants.data.services import data_exports_expire

    return data_exports_expire()


@public_task(name="tenants.data.tasks.purge_due_deletions", queue="bulk")
def purge_due_deletions() -> list[int]:
    """Beat's entry point: one purge task per deletion whose grace period is over, and
    the file removals an earlier run could not finish."""
    from tenants.data.services import deletion_files_pending, deletion_files_remove, deletions_due

    due = deletions_due()
    for request_id in due:
        purge_tenant_deletion.delay(request_id)
    for record in deletion_files_pending():
        deletion_files_remove(record=record)
    return due


@public_task(
    name="tenants.data.tasks.purge_tenant_deletion",
    queue="bulk",
    autoretry_for=(StripeUnavailable,),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=8,
)
def purge_tenant_deletion(request_id: int) -> int | None:
    """Delete one tenant whose grace period is over (idempotent; the row lock makes a
    concurrent duplicate a no-op). Stripe unreachable: retried, nothing deleted yet."""
    from tenants.data.services import deletion_purge

    record = deletion_purge(request_id=request_id)
    return record.pk if record else None


@public_task(name="tenants.data.tasks.send_deletion_email")
def send_deletion_email(request_id: int, kind: str) -> int:
    """Tell every owner that the deletion was scheduled or canceled; returns how many."""
    from shared_apps.organizations.selectors import owner_emails
    from tenants.data.models import TenantDeletionRequest

    request = (
        TenantDeletionRequest.objects.select_related("tenant", "canceled_by")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        return 0
    tenant = request.tenant
    owners = owner_emails(tenant=tenant)
    if not owners:
        return 0
    context = {
        "organization": tenant.name,
        "subdomain": tenant.subdomain,
        "host": f"{tenant.subdomain}.{settings.ROOT_DOMAIN}",
        "request": request,
        "canceled_by": request.canceled_by.email if request.canceled_by else "",
    }
    subject = {
        "scheduled": f"{tenant.name} is scheduled for deletion",
        "canceled": f"The deletion of {tenant.name} is canceled",
    }[kind]
    send_mail(
        subject=subject,
        message=render_to_string(f"tenant_data/deletion_{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=owners,
    )
    return len(owners)
