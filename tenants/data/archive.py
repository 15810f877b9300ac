"""The export archive: every table of the active tenant and its public-schema rows, as
JSON and CSV in one zip, with ``manifest.json`` (ADR 0023).

Memory stays bounded whatever the tenant's size: rows are read with a server-side cursor
(``.iterator(chunk_size=...)``), each row is written to its zip entry as it arrives, the
CSV twin of a table goes to a temporary file on disk while its JSON is streamed into the
archive (a zip has one entry open for writing at a time), and the archive itself is a
temporary file on disk until storage takes it.

Which tables: every model of every app in ``settings.TENANT_APPS`` (a new tenant app is
exported without touching this module), minus ``EXCLUDED_MODELS``; columns whose name
says they hold a credential (``SECRET_COLUMN``) are left out and listed as such in the
manifest. Public rows are the ones listed in ``public_tables`` with chosen columns:
members with their user's email and name (never password hashes), invitations without
token hashes, billing, usage reports, the tenant's platform events.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from tenants.context import current_tenant
from tenants.models import Tenant

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
# Live credentials, not data: a session key opens a member's session.
EXCLUDED_MODELS = frozenset({"sessions.session"})
# Columns never exported, by name, in any tenant app present or future.
SECRET_COLUMN = re.compile(r"password|secret|token|hash|private_key|session_(key|data)")
_FLUSH_BYTES = 256 * 1024


@dataclass
class Table:
    """One exported table: where its rows come from and which columns are written."""

    name: str  # "tenant/orders.order" or "public/members"
    queryset: QuerySet
    columns: list[str]  # values() paths, in order; "user__email" is written as "user_email"
    omitted: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [column.replace("__", "_") for column in self.columns]

    def rows(self, chunk_size: int) -> Iterator[tuple]:
        return self.queryset.order_by("pk").values_list(*self.columns).iterator(chunk_size)


def _app_in(config, app_list: Iterable[str]) -> bool:
    full = f"{config.__module__}.{config.__class__.__name__}"
    return config.name in app_list or full in app_list


def tenant_models(*, exported_only: bool = True) -> list[type[models.Model]]:
    """Every model stored in a tenant schema (M2M tables included), in a stable order;
    without ``EXCLUDED_MODELS`` unless ``exported_only`` is False."""
    found = []
    for config in apps.get_app_configs():
        if not _app_in(config, settings.TENANT_APPS):
            continue
        for model in config.get_models(include_auto_created=True):
            if model._meta.proxy:
                continue
            if exported_only and model._meta.label_lower in EXCLUDED_MODELS:
                continue
            if not model._meta.managed and not model._meta.auto_created:
                continue
            found.append(model)
    return sorted(found, key=lambda m: m._meta.label_lower)


def tenant_tables() -> list[Table]:
    tables = []
    for model in tenant_models():
        columns: list[str] = []
        omitted: list[str] = []
        for model_field in model._meta.concrete_fields:
            (omitted if SECRET_COLUMN.search(model_field.name) else columns).append(
                model_field.attname
            )
        tables.append(
            Table(
                name=f"tenant/{model._meta.label_lower}",
                queryset=model._base_manager.all(),
                columns=columns,
                omitted=omitted,
            )
        )
    return tables


def public_tables(tenant: Tenant) -> list[Table]:
    """The tenant's rows in the public schema, each through its tenant-scoped query."""
    from billing.models import BillingAccount, UsageReport
    from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser
    from tenants.data.models import DataExport, TenantDeletionRequest
    from tenants.models import Domain, TenantEvent

    return [
        Table(
            "public/organization",
            Tenant.objects.filter(pk=tenant.pk),
            [
                "id",
                "name",
                "subdomain",
                "schema_name",
                "organization__name",
                "organization__slug",
                "plan__code",
                "status",
                "trial_ends_at",
                "status_changed_at",
                "created",
            ],
        ),
        Table(
            "public/domains",
            Domain.objects.filter(tenant=tenant),
            ["id", "domain", "is_primary", "created"],
        ),
        Table(
            "public/members",
            OrganizationUser.objects.for_tenant(tenant),
            ["id", "user_id", "user__email", "user__full_name", "role", "created", "modified"],
            omitted=["user.password"],
        ),
        Table(
            "public/invitations",
            OrganizationInvitation.objects.for_tenant(tenant),
            [
                "id",
                "invitee_identifier",
                "role",
                "invited_by__email",
                "expires_at",
                "accepted_at",
                "created",
            ],
            omitted=["token_hash"],
        ),
        Table(
            "public/billing_account",
            BillingAccount.objects.for_tenant(tenant),
            [
                "id",
                "stripe_customer_id",
                "stripe_subscription_id",
                "subscription_status",
                "current_period_end",
                "past_due_since",
                "synced_at",
            ],
        ),
        Table(
            "public/usage_reports",
            UsageReport.objects.for_tenant(tenant),
            ["id", "period", "quantity", "idempotency_key", "reported_at"],
        ),
        Table(
            "public/tenant_events",
            TenantEvent.objects.filter(tenant=tenant),
            ["id", "action", "actor__email", "detail", "created"],
        ),
        Table(
            "public/data_exports",
            DataExport.objects.for_tenant(tenant),
            ["id", "uuid", "status", "requested_by__email", "row_count", "created", "finished"],
        ),
        Table(
            "public/deletion_requests",
            TenantDeletionRequest.objects.for_tenant(tenant),
            [
                "id",
                "status",
                "requested_by_email",
                "requested_at",
                "scheduled_for",
                "canceled_at",
                "canceled_by__email",
            ],
        ),
    ]


class _HashingSink:
    """Bytes into a zip entry, counted and hashed, flushed in blocks."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._buffer = bytearray()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.sha256.update(self._buffer)
            self.size += len(self._buffer)
            self._target.write(self._buffer)
            self._buffer = bytearray()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


def _write_table(archive: zipfile.ZipFile, table: Table, chunk_size: int) -> dict[str, Any]:
    headers = table.headers
    encoder = DjangoJSONEncoder(ensure_ascii=False)
    rows = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as csv_file:
        writer = csv.writer(csv_file)
        writer.writerow(headers)
        json_name = f"{table.name}.json"
        with archive.open(json_name, "w", force_zip64=True) as entry:
            sink = _HashingSink(entry)
            sink.write(b"[")
            for row in table.rows(chunk_size):
                sink.write(
                    (b",\n" if rows else b"\n")
                    + encoder.encode(dict(zip(headers, row, strict=True))).encode()
                )
                writer.writerow([_csv_value(value) for value in row])
                rows += 1
            sink.write(b"\n]\n" if rows else b"]\n")
            sink.flush()
        json_file = {"path": json_name, "sha256": sink.sha256.hexdigest(), "bytes": sink.size}
        csv_name = f"{table.name}.csv"
        csv_file.seek(0)
        with archive.open(csv_name, "w", force_zip64=True) as entry:
            sink = _HashingSink(entry)
            while chunk := csv_file.read(64 * 1024):
                sink.write(chunk.encode())
            sink.flush()
        csv_entry = {"path": csv_name, "sha256": sink.sha256.hexdigest(), "bytes": sink.size}
    return {
        "name": table.name,
        "rows": rows,
        "columns": headers,
        "omitted_columns": table.omitted,
        "files": {"json": json_file, "csv": csv_entry},
    }


@dataclass(frozen=True)
class ArchiveSummary:
    manifest: dict[str, Any]

    @property
    def table_count(self) -> int:
        return len(self.manifest["tables"])

    @property
    def row_count(self) -> int:
        return sum(table["rows"] for table in self.manifest["tables"])


def archive_write(target: IO[bytes], *, chunk_size: int | None = None) -> ArchiveSummary:
    """Write the active tenant's archive into ``target`` (a binary file opened for writing).

    Read in one REPEATABLE READ, read-only transaction: every table is from the same
    snapshot, so the counts in the manifest agree with each other as well as with the
    files.
    """
    tenant = current_tenant()
    chunk_size = chunk_size or settings.TENANT_DATA_EXPORT_CHUNK_SIZE
    generated_at = timezone.now()
    entries = []
    own_transaction = not connection.in_atomic_block
    if own_transaction:
        _route_now()
    with (
        transaction.atomic(),
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
    ):
        if own_transaction:  # inside a caller's transaction, its snapshot is the one
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for table in [*tenant_tables(), *public_tables(tenant)]:
            entries.append(_write_table(archive, table, chunk_size))
        manifest = {
            "format_version": FORMAT_VERSION,
            "generated_at": generated_at.isoformat(),
            "tenant": {
                "id": tenant.pk,
                "subdomain": tenant.subdomain,
                "schema": tenant.schema_name,
                "name": tenant.name,
            },
            "tables": entries,
        }
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
    return ArchiveSummary(manifest=manifest)


def _route_now() -> None:
    """Run the connection's schema switch before the transaction opens, so that
    ``SET TRANSACTION`` is its first statement (it must precede any query)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def copy_to(source: IO[bytes], target: IO[bytes]) -> None:
    source.seek(0)
    shutil.copyfileobj(source, target, 1024 * 1024)


def read_manifest(data: bytes | IO[bytes]) -> dict[str, Any]:
    """The manifest of an archive (tests, support)."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    with zipfile.ZipFile(stream) as archive:
        return json.loads(archive.read(MANIFEST_NAME))
