"""Reads of exports: the file of a finished export, as a redirect or a stream."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files import File
from django.core.files.storage import default_storage

from tenant_apps.exports.models import Export, ExportStatus
from tenants.storage import download_url, is_tenant_path, store_errors

CSV_CONTENT_TYPE = "text/csv"


@dataclass(frozen=True)
class ExportFile:
    """Where the bytes of an export come from: a presigned URL to redirect to (S3) or an
    open file for the app to stream (local disk). Exactly one of the two is set."""

    filename: str
    content_type: str
    redirect_url: str | None = None
    stream: File | None = None


def export_filename(export: Export) -> str:
    return f"{export.kind}-{export.created:%Y%m%d-%H%M%S}.csv"


def export_file_get(*, export: Export) -> ExportFile | None:
    """The file of ``export`` (already scoped to the active tenant by its queryset), or
    None when it has none (not finished, failed, cleaned up, or a name outside the
    tenant's own prefix, which is never served). Raises ``StorageUnavailable``."""
    if export.status != ExportStatus.DONE or not is_tenant_path(export.file_path):
        return None
    filename = export_filename(export)
    with store_errors("reading an export"):
        if not default_storage.exists(export.file_path):
            return None
        url = download_url(export.file_path, filename=filename, content_type=CSV_CONTENT_TYPE)
        if url is not None:
            return ExportFile(filename, CSV_CONTENT_TYPE, redirect_url=url)
        try:
            stream = default_storage.open(export.file_path, "rb")
        except FileNotFoundError:  # deleted between the check and the open
            return None
    return ExportFile(filename, CSV_CONTENT_TYPE, stream=stream)
