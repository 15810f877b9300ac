"""Writes: a tenant's full export, and the scheduled deletion of an organisation.

The deletion pipeline (ADR 0023), per request whose grace period is over:

1. the request is marked ``purging`` (a cancel is refused from the end of the grace
   period on anyway);
2. the Stripe subscription is canceled (idempotency key per tenant and subscription;
   skipped when billing is disabled or there is none). Stripe failing raises
   ``StripeUnavailable`` *before anything is deleted*: the task retries later;
3. in one transaction: the counts of what is about to go, the ``TenantDeletionRecord``,
   the public rows (exports, schedules, billing, usage, dj-stripe mirrors, events,
   domains, tenant, organisation, memberships, invitations) and the schema;
4. after commit, the files under the tenant's storage prefix. A failure there leaves
   ``files_removed_at`` empty and the next run finishes the job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.core.errors import StorageUnavailable
from tenant_apps.audit.services import audit_record
from tenants.context import current_tenant
from tenants.data.archive import archive_write, tenant_models
from tenants.data.errors import (
    DeletionAlreadyScheduled,
    DeletionConfirmationMismatch,
    DeletionGracePeriodOver,
    DeletionNotScheduled,
)
from tenants.data.models import (
    OPEN_DELETION_STATUSES,
    DataExport,
    DataExportStatus,
    DeletionStatus,
    TenantDeletionRecord,
    TenantDeletionRequest,
)
from tenants.models import Tenant, TenantEvent
from tenants.storage import ROOT as STORAGE_ROOT
from tenants.storage import store_errors, tenant_path

logger = logging.getLogger(__name__)

# Export -----------------------------------------------------------------------------------


@transaction.atomic
def data_export_request(*, tenant: Tenant, acting_user: User) -> DataExport:
    """Record the request (and an audit entry) and queue the archive after commit (→ 202)."""
    from tenants.data.tasks import build_data_export

    export = DataExport.objects.create(tenant=tenant, requested_by=acting_user)
    audit_record(actor=acting_user, action="data_export.requested", target=export)
    TenantEvent.objects.create(
        tenant=tenant, actor=acting_user, action="data_export.requested", detail={"id": export.pk}
    )
    transaction.on_commit(lambda: build_data_export.delay(export.pk))
    return export


def data_export_run(*, export_id: int) -> DataExport | None:
    """Build the archive of the active tenant (idempotent: a finished export is left
    alone; a redelivered one that was running starts over)."""
    tenant = current_tenant()
    with transaction.atomic():
        export = (
            DataExport.objects.for_tenant(tenant).select_for_update().filter(pk=export_id).first()
        )
        if export is None or export.status not in (
            DataExportStatus.PENDING,
            DataExportStatus.RUNNING,
        ):
            return export
        export.status = DataExportStatus.RUNNING
        export.save(update_fields=["status"])
    try:
        with tempfile.TemporaryFile() as archive:
            summary = archive_write(archive)
            size = archive.tell()
            archive.seek(0)
            path = default_storage.save(
                tenant_path("data-exports", f"{export.uuid}.zip"),
                File(archive, name=f"{export.uuid}.zip"),
            )
    except Exception as exc:
        logger.exception("data export %s failed", export.pk)
        export.status = DataExportStatus.FAILED
        export.error = str(exc)[:1000]
        export.finished = timezone.now()
        export.save(update_fields=["status", "error", "finished"])
        return export
    export.status = DataExportStatus.DONE
    export.file_path = path
    export.size_bytes = size
    export.table_count = summary.table_count
    export.row_count = summary.row_count
    export.finished = timezone.now()
    export.expires_at = export.finished + dt.timedelta(days=settings.TENANT_DATA_EXPORT_DAYS)
    export.save(
        update_fields=[
            "status",
            "file_path",
            "size_bytes",
            "table_count",
            "row_count",
            "finished",
            "expires_at",
        ]
    )
    return export


def data_exports_expire(*, now: dt.datetime | None = None) -> int:
    """Remove the archives past their ``expires_at`` (every tenant: one public query).
    The rows stay, marked expired, as the history of what was exported when."""
    now = now or timezone.now()
    expired = 0
    due = DataExport.objects.filter(status=DataExportStatus.DONE, expires_at__lte=now)
    for export in due.iterator():
        if export.file_path:
            default_storage.delete(export.file_path)
        DataExport.objects.filter(pk=export.pk).update(
            status=DataExportStatus.EXPIRED, file_path=""
        )
        expired += 1
    return expired


# Deletion: schedule and cancel ------------------------------------------------------------


@transaction.atomic
def deletion_schedule(*, tenant: Tenant, confirm: str, acting_user: User) -> TenantDeletionRequest:
    """Schedule the organisation's deletion ``TENANT_DELETION_GRACE_DAYS`` from now.

    ``confirm`` must be the tenant's subdomain. A second request while one is open is a
    409 (``DeletionAlreadyScheduled``): the date never moves silently.
    """
    if confirm.strip().lower() != tenant.subdomain:
        raise DeletionConfirmationMismatch(
            fields={"confirm": [DeletionConfirmationMismatch.message]}
        )
    # Lock the tenant row: two concurrent requests queue here, the second sees the first.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    if (
        TenantDeletionRequest.objects.for_tenant(tenant)
        .filter(status__in=OPEN_DELETION_STATUSES)
        .exists()
    ):
        raise DeletionAlreadyScheduled()
    scheduled_for = timezone.now() + dt.timedelta(days=settings.TENANT_DELETION_GRACE_DAYS)
    request = TenantDeletionRequest.objects.create(
        tenant=tenant,
        requested_by=acting_user,
        requested_by_email=acting_user.email,
        scheduled_for=scheduled_for,
    )
    detail = {"scheduled_for": scheduled_for.isoformat()}
    audit_record(
        actor=acting_user, action="organization.deletion_scheduled", target=request, changes=detail
    )
    TenantEvent.objects.create(
        tenant=tenant, actor=acting_user, action="deletion.scheduled", detail=detail
    )
    _email_owners_on_commit(request, "scheduled")
    return request


@transaction.atomic
def deletion_cancel(*, tenant: Tenant, acting_user: User) -> TenantDeletionRequest:
    """Cancel the open deletion request, while its grace period lasts (else 409)."""
    request = (
        TenantDeletionRequest.objects.for_tenant(tenant)
        .select_for_update()
        .filter(status__in=OPEN_DELETION_STATUSES)
        .first()
    )
    if request is None:
        raise DeletionNotScheduled()
    if request.status == DeletionStatus.PURGING or request.scheduled_for <= timezone.now():
        raise DeletionGracePeriodOver()
    request.status = DeletionStatus.CANCELED
    request.canceled_at = timezone.now()
    request.canceled_by = acting_user
    request.save(update_fields=["status", "canceled_at", "canceled_by"])
    detail = {"scheduled_for": request.scheduled_for.isoformat()}
    audit_record(
        actor=acting_user, action="organization.deletion_canceled", target=request, changes=detail
    )
    TenantEvent.objects.create(
        tenant=tenant, actor=acting_user, action="deletion.canceled", detail=detail
    )
    _email_owners_on_commit(request, "canceled")
    return request


def _email_owners_on_commit(request: TenantDeletionRequest, kind: str) -> None:
    from tenants.data.tasks import send_deletion_email

    request_id = request.pk
    transaction.on_commit(lambda: send_deletion_email.delay(request_id, kind))


# Deletion: the purge ----------------------------------------------------------------------


def deletions_due(*, now: dt.datetime | None = None) -> list[int]:
    """Ids of the open requests whose grace period is over (every tenant)."""
    now = now or timezone.now()
    return list(
        TenantDeletionRequest.objects.filter(
            status__in=OPEN_DELETION_STATUSES, scheduled_for__lte=now
        )
        .order_by("scheduled_for", "pk")
        .values_list("pk", flat=True)
    )


def deletion_purge(
    *, request_id: int, now: dt.datetime | None = None
) -> TenantDeletionRecord | None:
    """Delete the tenant of ``request_id`` if its grace period is over: Stripe, then rows
    and schema in one transaction, then files. Idempotent; returns the record, or None
    when there is nothing (left) to do. Stripe errors propagate (retry later)."""
    from billing.stripe_client import StripeUnavailable

    now = now or timezone.now()
    with transaction.atomic():
        request = (
            TenantDeletionRequest.objects.select_for_update(skip_locked=True)
            .select_related("tenant", "tenant__organization")
            .filter(pk=request_id, status__in=OPEN_DELETION_STATUSES, scheduled_for__lte=now)
            .first()
        )
        if request is None:
            return None
        request.status = DeletionStatus.PURGING
        request.attempts += 1
        request.save(update_fields=["status", "attempts"])
    tenant = request.tenant
    try:
        canceled_subscription = subscription_cancel_for_deletion(tenant=tenant)
    except StripeUnavailable as exc:
        TenantDeletionRequest.objects.filter(pk=request.pk).update(last_error=str(exc)[:1000])
        raise
    with transaction.atomic():
        locked = (
            TenantDeletionRequest.objects.select_for_update()
            .filter(pk=request.pk, status=DeletionStatus.PURGING)
            .first()
        )
        if locked is None:  # another purge finished it meanwhile
            return None
        record = TenantDeletionRecord.objects.create(
            tenant_pk=tenant.pk,
            subdomain=tenant.subdomain,
            schema_name=tenant.schema_name,
            organization_name=tenant.organization.name,
            requested_by_email=request.requested_by_email,
            requested_at=request.requested_at,
            scheduled_for=request.scheduled_for,
            deleted_at=timezone.now(),
            stripe_subscription_canceled=canceled_subscription,
            removed={
                "tenant_tables": _tenant_table_counts(tenant),
                "public_rows": _public_rows_delete(tenant),
            },
        )
    try:
        deletion_files_remove(record=record)
    except StorageUnavailable:  # rows and schema are gone; the next hourly run retries
        logger.warning("files of deleted tenant %s not removed yet", record.schema_name)
    logger.info("tenant %s (%s) deleted", record.subdomain, record.schema_name)
    return record


def subscription_cancel_for_deletion(*, tenant: Tenant) -> str:
    """Cancel the tenant's Stripe subscription now; returns its id ("" when there was
    none or billing is disabled). A subscription Stripe no longer knows counts as gone."""
    from billing.models import BillingAccount
    from billing.services import StripeRejected
    from billing.stripe_client import (
        StripeUnavailable,
        billing_enabled,
        idempotency_key,
        stripe_api,
    )

    account = BillingAccount.objects.for_tenant(tenant).first()
    if not billing_enabled() or account is None or not account.stripe_subscription_id:
        return ""
    subscription_id = account.stripe_subscription_id
    stripe = stripe_api()
    try:
        stripe.Subscription.cancel(
            subscription_id,
            idempotency_key=idempotency_key("tenant-deletion", tenant.pk, subscription_id),
        )
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "http_status", None) != 404:
            raise StripeRejected(str(exc)) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise StripeUnavailable() from exc
    return subscription_id


def _tenant_table_counts(tenant: Tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {
            model._meta.label_lower: model._base_manager.count()
            for model in tenant_models(exported_only=False)
        }


def _public_rows_delete(tenant: Tenant) -> dict[str, int]:
    """Delete every public row of the tenant, the schema last; returns counts per kind.
    Inside the caller's transaction."""
    from djstripe.models import Customer as StripeCustomer

    from billing.models import BillingAccount, UsageReport
    from shared_apps.organizations.models import (
        OrganizationInvitation,
        OrganizationOwner,
        OrganizationUser,
    )
    from shared_apps.support.models import SupportSession
    from tenants.services import tenant_destroy

    counts: dict[str, int] = {
        "organizations.organizationuser": OrganizationUser.objects.for_tenant(tenant).count(),
        "organizations.organizationinvitation": (
            OrganizationInvitation.objects.for_tenant(tenant).count()
        ),
        "organizations.organizationowner": OrganizationOwner.objects.filter(
            organization_id=tenant.organization_id
        ).count(),
        "billing.billingaccount": BillingAccount.objects.for_tenant(tenant).count(),
        "billing.usagereport": UsageReport.objects.for_tenant(tenant).count(),
        "tenant_data.dataexport": DataExport.objects.for_tenant(tenant).count(),
        "tenant_data.tenantdeletionrequest": (
            TenantDeletionRequest.objects.for_tenant(tenant).count()
        ),
        "tenants.tenantevent": tenant.events.count(),
        # Support access history (ADR 0024): cascades with the tenant.
        "support.supportsession": SupportSession.objects.for_tenant(tenant).count(),
        "tenants.domain": tenant.domains.count(),
    }
    # Stripe's own records stay in Stripe; the local mirrors of this customer go.
    counts["djstripe.customer"], _ = StripeCustomer.objects.filter(subscriber=tenant).delete()
    UsageReport.objects.for_tenant(tenant).delete()
    BillingAccount.objects.for_tenant(tenant).delete()
    DataExport.objects.for_tenant(tenant).delete()
    OrganizationInvitation.objects.for_tenant(tenant).delete()
    tenant_destroy(tenant=tenant)  # domains, events, tenant, organisation (+ members), schema
    counts["tenants.tenant"] = 1
    counts["organizations.organization"] = 1
    return counts


def deletion_files_remove(*, record: TenantDeletionRecord) -> int:
    """Remove every file under the deleted tenant's storage prefix; returns how many.
    Refuses (0) when a live tenant has that schema again (a new sign-up). Raises
    ``StorageUnavailable`` (``files_removed_at`` stays empty for the next run)."""
    if record.files_removed_at is not None:
        return 0
    if Tenant.objects.filter(schema_name=record.schema_name).exists():
        logger.warning("schema %s is in use again; its files are not removed", record.schema_name)
        return 0
    with store_errors("removing a deleted tenant's files"):
        removed = _storage_delete_tree(f"{STORAGE_ROOT}/{record.schema_name}")
    removed_info: dict[str, Any] = {**record.removed, "files": removed}
    TenantDeletionRecord.objects.filter(pk=record.pk).update(
        files_removed_at=timezone.now(), removed=removed_info
    )
    record.removed = removed_info
    return removed


def _storage_delete_tree(prefix: str) -> int:
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return 0
    removed = 0
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
        removed += 1
    for directory in directories:
        removed += _storage_delete_tree(f"{prefix}/{directory}")
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(default_storage.path(prefix))  # a file system: no empty directories left
    return removed


def deletion_files_pending() -> list[TenantDeletionRecord]:
    return list(TenantDeletionRecord.objects.filter(files_removed_at__isnull=True))
