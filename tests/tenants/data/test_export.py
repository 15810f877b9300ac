"""A tenant's data, out: the archive holds every table of the tenant and its public rows,
its manifest matches the database, nothing of another tenant is in it, and only the
tenant's members can follow and download it."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from billing.models import BillingAccount, UsageReport
from shared_apps.core.errors import ErrorCode
from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser
from tenant_apps.audit.models import AuditEntry
from tenant_apps.integrations.models import ApiKey, WebhookEndpoint
from tenants.data.archive import EXCLUDED_MODELS, MANIFEST_NAME, tenant_models
from tenants.data.models import DataExport, DataExportStatus
from tenants.data.services import data_export_request, data_export_run, data_exports_expire
from tenants.models import TenantEvent
from tests.factories import InvitationFactory, OrderFactory, OrderItemFactory, ProductFactory
from tests.support import bearer_client, error_of

ALPHA_MARK = "alpha-archive-mark-1c9e"
BETA_MARK = "beta-archive-mark-88d2"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _fill(world, mark: str) -> None:
    """Rows in most tenant tables and in the tenant's public rows, each carrying ``mark``."""
    tenant = world.tenant
    connection.set_tenant(tenant)
    try:
        product = ProductFactory(name=f"{mark} product", description=mark)
        for _ in range(3):
            order = OrderFactory(notes=mark, total=Decimal("9.50"))
            OrderItemFactory(order=order, product=product)
        AuditEntry.objects.create(action=f"{mark}.action", object_type="x", object_id="1")
        ApiKey.objects.create_key(name=f"{mark} key", role="admin")
        WebhookEndpoint.objects.create(
            url=f"https://hooks.example.test/{mark}",
            events=["order.created"],
            secret=f"whsec_{mark}-signing",
            previous_secret=f"whsec_{mark}-previous",
        )
    finally:
        connection.set_schema_to_public()
    InvitationFactory(
        organization=tenant.organization,
        invited_by=world.user("owner"),
        invitee_identifier=f"{mark}@invitee.test",
        token_hash=hashlib.sha256(mark.encode()).hexdigest(),
    )
    BillingAccount.objects.update_or_create(
        tenant=tenant, defaults={"stripe_customer_id": f"cus_{mark}"}
    )
    UsageReport.objects.create(
        tenant=tenant, period="2026-11-30", quantity=3, idempotency_key=f"usage-{mark}"
    )
    TenantEvent.objects.create(tenant=tenant, action="test.filled", detail={"mark": mark})


def _archive_entries(path: str) -> dict[str, bytes]:
    with default_storage.open(path, "rb") as stored, zipfile.ZipFile(stored) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _database_count(alpha, table_name: str) -> int:
    """The database's own count for a manifest table, asked independently of the
    archive code (tenant tables in alpha's schema; public rows by their tenant column)."""
    tenant = alpha.tenant
    source, name = table_name.split("/", 1)
    if source == "tenant":
        model = next(m for m in tenant_models() if m._meta.label_lower == name)
        connection.set_tenant(tenant)
        try:
            return model._base_manager.count()
        finally:
            connection.set_schema_to_public()
    return {
        "organization": lambda: 1,
        "domains": lambda: tenant.domains.count(),
        "members": lambda: OrganizationUser.objects.filter(
            organization_id=tenant.organization_id
        ).count(),
        "invitations": lambda: OrganizationInvitation.objects.filter(
            organization_id=tenant.organization_id
        ).count(),
        "billing_account": lambda: BillingAccount.objects.filter(tenant=tenant).count(),
        "usage_reports": lambda: UsageReport.objects.filter(tenant=tenant).count(),
        "tenant_events": lambda: TenantEvent.objects.filter(tenant=tenant).count(),
        "data_exports": lambda: DataExport.objects.filter(tenant=tenant).count(),
        "deletion_requests": lambda: tenant.deletion_requests.count(),
    }[name]()


def _build(alpha) -> DataExport:
    tenant = alpha.tenant
    connection.set_tenant(tenant)
    try:
        export = data_export_request(tenant=tenant, acting_user=alpha.user("owner"))
        return data_export_run(export_id=export.pk)
    finally:
        connection.set_schema_to_public()


def test_archive_manifest_matches_the_tenants_data_and_holds_nothing_of_beta(alpha, beta):
    _fill(alpha, ALPHA_MARK)
    _fill(beta, BETA_MARK)
    export = _build(alpha)
    assert export.status == DataExportStatus.DONE, export.error
    assert export.file_path.startswith("tenants/t_alpha/data-exports/")
    entries = _archive_entries(export.file_path)
    manifest = json.loads(entries[MANIFEST_NAME])

    assert manifest["tenant"]["subdomain"] == "alpha"
    assert manifest["tenant"]["schema"] == "t_alpha"
    assert dt.datetime.fromisoformat(manifest["generated_at"]) <= timezone.now()
    tables = {table["name"]: table for table in manifest["tables"]}
    # Every tenant table (walked from TENANT_APPS), sessions excepted, and the public rows.
    expected_tenant = {
        f"tenant/{m._meta.label_lower}"
        for m in tenant_models(exported_only=False)
        if m._meta.label_lower not in EXCLUDED_MODELS
    }
    assert {n for n in tables if n.startswith("tenant/")} == expected_tenant
    assert "tenant/orders.order" in tables and "tenant/sessions.session" not in tables
    assert {n for n in tables if n.startswith("public/")} == {
        "public/organization",
        "public/domains",
        "public/members",
        "public/invitations",
        "public/billing_account",
        "public/usage_reports",
        "public/tenant_events",
        "public/data_exports",
        "public/deletion_requests",
    }
    # Files: exactly the manifest's, each checksum right, row counts = the database's.
    listed = {f["path"] for t in tables.values() for f in t["files"].values()}
    assert set(entries) == listed | {MANIFEST_NAME}
    for name, table in tables.items():
        for described in table["files"].values():
            content = entries[described["path"]]
            assert hashlib.sha256(content).hexdigest() == described["sha256"], described
            assert len(content) == described["bytes"]
        rows = json.loads(entries[table["files"]["json"]["path"]])
        csv_lines = entries[table["files"]["csv"]["path"]].decode().splitlines()
        assert len(rows) == table["rows"] == _database_count(alpha, name), name
        assert len(csv_lines) == table["rows"] + 1, name  # header (no multi-line values here)
        assert csv_lines[0].split(",") == table["columns"]
    assert tables["tenant/orders.order"]["rows"] == 3
    assert export.row_count == sum(t["rows"] for t in tables.values())

    everything = b"".join(entries.values())
    assert ALPHA_MARK.encode() in everything
    assert b"owner@alpha.test" in everything  # members with their user's email
    assert BETA_MARK.encode() not in everything
    assert b"@beta.test" not in everything
    # No password hash, no invitation token hash.
    assert b"md5$" not in everything and b"pbkdf2" not in everything
    assert hashlib.sha256(ALPHA_MARK.encode()).hexdigest().encode() not in everything
    # Nor any other credential a tenant app holds: API key hashes, webhook secrets.
    assert f"whsec_{ALPHA_MARK}".encode() not in everything
    connection.set_tenant(alpha.tenant)
    try:
        key_hash = ApiKey.objects.get(name=f"{ALPHA_MARK} key").hashed_key
    finally:
        connection.set_schema_to_public()
    assert key_hash.encode() not in everything
    assert "hashed_key" in tables["tenant/integrations.apikey"]["omitted_columns"]
    assert {"secret", "previous_secret"} <= set(
        tables["tenant/integrations.webhookendpoint"]["omitted_columns"]
    )
    assert tables["tenant/integrations.apikey"]["rows"] == 1
    members = json.loads(entries["public/members.json"])
    assert {"user_email", "user_full_name", "role"} <= set(members[0])
    assert "password" not in json.dumps(members)
    assert tables["public/invitations"]["omitted_columns"] == ["token_hash"]


def test_export_request_is_owner_only_audited_and_queued_after_commit(
    alpha, django_capture_on_commit_callbacks
):
    refused = bearer_client(alpha, "admin").post("/api/v1/organization/export/")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == ErrorCode.PERMISSION_DENIED

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = bearer_client(alpha, "owner").post("/api/v1/organization/export/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["download_url"] is None
    assert set(body) >= {"id", "status"}
    assert len(callbacks) == 1
    connection.set_tenant(alpha.tenant)
    try:
        entry = AuditEntry.objects.get(action="data_export.requested")
    finally:
        connection.set_schema_to_public()
    assert entry.actor_id == alpha.user("owner").pk and entry.object_id == str(body["id"])


def test_members_follow_and_download_it_and_beta_gets_404(alpha, beta):
    export = _build(alpha)
    viewer = bearer_client(alpha, "viewer")
    detail = viewer.get(f"/api/v1/organization/export/{export.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "done"
    url = f"http://alpha.localhost/api/v1/organization/export/{export.pk}/download/"
    assert body["download_url"] == url
    download = viewer.get(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    content = b"".join(download.streaming_content)
    assert MANIFEST_NAME in zipfile.ZipFile(io.BytesIO(content)).namelist()

    for role in ("owner", "viewer"):
        client = bearer_client(beta, role)
        for path in ("", "download/"):
            response = client.get(f"/api/v1/organization/export/{export.pk}/{path}")
            assert response.status_code == 404, (role, path, response.content)
            assert error_of(response)["code"] == ErrorCode.NOT_FOUND


def test_a_suspended_tenant_can_still_take_its_data_out(alpha, django_capture_on_commit_callbacks):
    tenant = alpha.tenant
    tenant.status = "suspended"
    tenant.save(update_fields=["status"])
    with django_capture_on_commit_callbacks(execute=False):
        response = bearer_client(alpha, "owner").post("/api/v1/organization/export/")
    assert response.status_code == 202, response.content


def test_archives_expire_after_the_retention_period(alpha, settings):
    export = _build(alpha)
    assert default_storage.exists(export.file_path)
    assert export.expires_at == export.finished + dt.timedelta(
        days=settings.TENANT_DATA_EXPORT_DAYS
    )
    assert data_exports_expire(now=export.expires_at - dt.timedelta(seconds=1)) == 0
    assert data_exports_expire(now=export.expires_at) == 1
    assert not default_storage.exists(export.file_path)
    export.refresh_from_db()
    assert export.status == DataExportStatus.EXPIRED and export.file_path == ""
    response = bearer_client(alpha, "owner").get(
        f"/api/v1/organization/export/{export.pk}/download/"
    )
    assert response.status_code == 404
    assert (
        bearer_client(alpha, "owner")
        .get(f"/api/v1/organization/export/{export.pk}/")
        .json()["download_url"]
        is None
    )
