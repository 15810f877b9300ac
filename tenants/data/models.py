"""A tenant's data export requests, deletion schedules, and the record of a deletion.

All three live in the public schema. Exports and schedules belong to a tenant (scoped
through ``TenantOwnedManager.for_tenant``) and go with it; ``TenantDeletionRecord`` has
no foreign key on purpose: it is what remains after the tenant, its organisation and its
schema are gone.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from tenants.scoping import TenantOwned, TenantOwnedManager


class DataExportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"  # past TENANT_DATA_EXPORT_DAYS: file removed


class DataExport(TenantOwned, models.Model):
    """One full export of a tenant's data: a zip archive in the tenant's storage prefix."""

    tenant_owner = "tenant"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=DataExportStatus.choices, default=DataExportStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_path = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    table_count = models.PositiveIntegerField(null=True, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = TenantOwnedManager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in DataExportStatus]),
                name="data_export_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"data export {self.uuid} ({self.status})"


class DeletionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELED = "canceled", "Canceled"
    PURGING = "purging", "Purging"  # grace period over, the purge has started


OPEN_DELETION_STATUSES = (DeletionStatus.SCHEDULED, DeletionStatus.PURGING)


class TenantDeletionRequest(TenantOwned, models.Model):
    """An owner's request to delete the organisation after a grace period.

    At most one open (scheduled or purging) request per tenant; canceled ones stay as
    history until the tenant itself is deleted.
    """

    tenant_owner = "tenant"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="deletion_requests"
    )
    status = models.CharField(
        max_length=16, choices=DeletionStatus.choices, default=DeletionStatus.SCHEDULED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_email = models.EmailField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    scheduled_for = models.DateTimeField(db_index=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    canceled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    objects = TenantOwnedManager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(status__in=[s.value for s in OPEN_DELETION_STATUSES]),
                name="deletion_request_one_open_per_tenant",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in DeletionStatus]),
                name="deletion_request_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"deletion of {self.tenant_id} on {self.scheduled_for:%Y-%m-%d} ({self.status})"


class TenantDeletionRecord(models.Model):
    """What was deleted, when and at whose request. Kept after everything else is gone."""

    tenant_pk = models.BigIntegerField(help_text="The deleted tenant's id")
    subdomain = models.CharField(max_length=63, db_index=True)
    schema_name = models.CharField(max_length=63)
    organization_name = models.CharField(max_length=200)
    requested_by_email = models.EmailField(blank=True)
    requested_at = models.DateTimeField()
    scheduled_for = models.DateTimeField()
    deleted_at = models.DateTimeField(db_index=True)
    stripe_subscription_canceled = models.CharField(max_length=255, blank=True)
    # {"tenant_tables": {"orders.order": 3, ...}, "public_rows": {...}, "files": 2}
    removed = models.JSONField(default=dict)
    files_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-deleted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subdomain} deleted {self.deleted_at:%Y-%m-%d}"
