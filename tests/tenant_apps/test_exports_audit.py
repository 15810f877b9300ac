"""Exports (queued, stored per tenant, downloadable by members only) and the audit log."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from tenant_apps.audit.models import AuditEntry
from tenant_apps.exports.models import Export
from tenant_apps.exports.services import export_cleanup, export_run
from tenants.storage import tenant_path
from tests.factories import AuditEntryFactory, ExportFactory, OrderFactory
from tests.support import bearer_client, error_of


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_export_request_is_202_and_queued_after_commit(alpha, django_capture_on_commit_callbacks):
    client = bearer_client(alpha, "member")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/v1/exports/", {"kind": "orders_csv"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["download_url"] is None
    assert len(callbacks) == 1


def test_export_run_writes_csv_into_the_tenants_own_prefix(in_alpha, alpha, media):
    OrderFactory(total=Decimal("12.00"))
    export = ExportFactory()
    done = export_run(export_id=export.pk)
    assert done.status == "done" and done.row_count == 1
    assert done.file_path.startswith("tenants/t_alpha/exports/")
    assert (media / done.file_path).exists()
    assert export_run(export_id=export.pk).file_path == done.file_path  # idempotent

    connection.set_schema_to_public()
    client = bearer_client(alpha, "viewer")
    detail = client.get(f"/api/v1/exports/{export.pk}/").json()
    assert detail["download_url"] == f"http://alpha.localhost/api/v1/exports/{export.pk}/download/"
    download = client.get(f"/api/v1/exports/{export.pk}/download/")
    assert download.status_code == 200
    rows = list(csv.reader(b"".join(download.streaming_content).decode().splitlines()))
    assert rows[0] == [
        "id",
        "created",
        "status",
        "customer_name",
        "customer_email",
        "items",
        "total",
    ]
    assert len(rows) == 2 and rows[1][2] == "placed" and rows[1][5:] == ["0", "12.00"]


def test_pending_export_has_no_download(in_alpha, alpha):
    export = ExportFactory()
    connection.set_schema_to_public()
    response = bearer_client(alpha).get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_beta_cannot_download_alphas_export(in_alpha, alpha, beta):
    export = export_run(export_id=ExportFactory().pk)
    connection.set_schema_to_public()
    response = bearer_client(beta, "owner").get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 404


def test_cleanup_removes_old_exports_and_files(in_alpha, media):
    old = export_run(export_id=ExportFactory().pk)
    Export.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=8))
    fresh = export_run(export_id=ExportFactory().pk)
    assert export_cleanup(older_than=timedelta(days=7)) == 1
    assert not (media / old.file_path).exists() and (media / fresh.file_path).exists()
    assert list(Export.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_tenant_path_refuses_traversal(in_alpha):
    assert tenant_path("exports", "a.csv") == "tenants/t_alpha/exports/a.csv"
    for bad in ("..", "../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            tenant_path("exports", bad)


def test_tenant_path_needs_a_tenant(db):
    with pytest.raises(RuntimeError):
        tenant_path("x")


def test_storage_is_separate_per_tenant(in_alpha, beta):
    alpha_path = export_run(export_id=ExportFactory().pk).file_path
    connection.set_tenant(beta.tenant)
    beta_path = export_run(export_id=ExportFactory().pk).file_path
    assert alpha_path.split("/")[1] == "t_alpha" and beta_path.split("/")[1] == "t_beta"
    assert default_storage.exists(alpha_path) and default_storage.exists(beta_path)


def test_audit_log_for_owners_and_admins_only(alpha):
    member = bearer_client(alpha, "member")
    member.post("/api/v1/categories/", {"name": "Audited"}, format="json")
    assert member.get("/api/v1/audit-log/").status_code == 403
    rows = (
        bearer_client(alpha, "admin")
        .get("/api/v1/audit-log/?action=category.created")
        .json()["results"]
    )
    assert len(rows) == 1
    assert rows[0]["actor_email"] == "member@alpha.test" and rows[0]["changes"]["name"] == "Audited"


def test_audit_entries_are_written_in_the_same_transaction(in_alpha, alpha):
    from tenant_apps.catalog.services import product_create

    before = AuditEntry.objects.count()
    with pytest.raises(Exception):  # noqa: B017 - any failure after the write
        from django.db import transaction

        with transaction.atomic():
            product_create(name="Rolled back", price=Decimal(1), acting_user=alpha.user("owner"))
            raise RuntimeError("fail after write")
    assert AuditEntry.objects.count() == before
    AuditEntryFactory()
    assert AuditEntry.objects.count() == before + 1
