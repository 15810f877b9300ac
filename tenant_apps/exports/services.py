"""Exports: requested through the API, written by a Celery task into the tenant's storage."""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from billing.entitlements import Feature, require_feature
from shared_apps.core.errors import StorageUnavailable
from tenant_apps.audit.services import audit_record
from tenant_apps.exports.models import Export, ExportKind, ExportStatus
from tenant_apps.orders.models import Order
from tenants.context import current_tenant
from tenants.storage import store_errors, tenant_path

logger = logging.getLogger(__name__)

ORDER_COLUMNS = ["id", "created", "status", "customer_name", "customer_email", "items", "total"]
# The reason a failed export shows its requester when the file store failed (the
# details, which name buckets and endpoints, go to the log only).
STORAGE_FAILED_REASON = (
    "The file could not be saved: file storage is unavailable. Request the export again."
)


@transaction.atomic
def export_request(*, kind: str, acting_user) -> Export:
    """Record the request and queue the work once the row is committed (→ 202).
    402 ``feature_not_in_plan`` unless the tenant's entitlements include exports."""
    from tenant_apps.exports.tasks import run_export

    require_feature(current_tenant(), Feature.EXPORTS)
    export = Export.objects.create(kind=kind, requested_by=acting_user)
    audit_record(
        actor=acting_user, action="export.requested", target=export, changes={"kind": kind}
    )
    transaction.on_commit(lambda: run_export.delay(export.pk))
    return export


def _orders_csv() -> tuple[bytes, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ORDER_COLUMNS)
    rows = 0
    queryset = (
        Order.objects.annotate(item_count=Count("items"))
        .order_by("id")
        .values_list(
            "id", "created", "status", "customer__name", "customer__email", "item_count", "total"
        )
    )
    for order_id, created, status, name, email, items, total in queryset.iterator(2000):
        writer.writerow([order_id, created.isoformat(), status, name, email, items, total])
        rows += 1
    return buffer.getvalue().encode(), rows


_WRITERS = {ExportKind.ORDERS_CSV: _orders_csv}


def export_run(*, export_id: int) -> Export | None:
    """Produce the file for an export (idempotent: a finished export is left alone)."""
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status in (ExportStatus.DONE, ExportStatus.FAILED):
            return export
        export.status = ExportStatus.RUNNING
        export.save(update_fields=["status"])
    try:
        # Checked again here: the plan may have lost exports since the request (and a
        # task queued by other means goes through this check too).
        require_feature(current_tenant(), Feature.EXPORTS)
        content, rows = _WRITERS[ExportKind(export.kind)]()
        with store_errors("writing an export"):
            path = default_storage.save(
                tenant_path("exports", f"{export.uuid}.csv"), ContentFile(content)
            )
    except Exception as exc:
        logger.exception("export %s failed", export.pk)
        export.status = ExportStatus.FAILED
        export.error = STORAGE_FAILED_REASON if isinstance(exc, StorageUnavailable) else str(exc)
        export.error = export.error[:1000]
        export.finished = timezone.now()
        export.save(update_fields=["status", "error", "finished"])
        return export
    export.status = ExportStatus.DONE
    export.file_path = path
    export.row_count = rows
    export.finished = timezone.now()
    export.save(update_fields=["status", "file_path", "row_count", "finished"])
    return export


def export_cleanup(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete exports (rows and files) older than ``older_than`` in the active tenant.

    The file goes first; when the store fails, the row stays so the next daily run
    deletes both (the bucket's lifecycle rule expires what is left behind anyway).
    Returns how many exports were removed.
    """
    cutoff = timezone.now() - older_than
    removed = 0
    for export in Export.objects.filter(created__lt=cutoff).iterator():
        if export.file_path:
            try:
                with store_errors("deleting an expired export"):
                    default_storage.delete(export.file_path)
            except StorageUnavailable:
                logger.warning("export %s kept: its file could not be deleted", export.pk)
                continue
        export.delete()
        removed += 1
    return removed


def export_final(*, kind: str) -> str:
    """Write a last export of the active tenant before it is deleted; returns its path.
    Kept under ``tenants/<schema>/final/``, outside the exports that clean-up removes."""
    content, _ = _WRITERS[ExportKind(kind)]()
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    with store_errors("writing a final export"):
        return default_storage.save(
            tenant_path("final", f"{kind}-{stamp}.csv"), ContentFile(content)
        )
