"""The archive and the purge on a real Celery worker (prefork, Redis, PostgreSQL): the
request's after-commit message reaches the tenant task on ``bulk``, which builds the
archive in the requesting tenant's schema; the hourly job's public task purges a tenant
whose grace period is over."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from shared_apps.organizations.models import OrganizationUser
from tenant_apps.audit.models import AuditEntry
from tenant_apps.orders.models import Order
from tenants.data.archive import MANIFEST_NAME
from tenants.data.models import DataExport, DataExportStatus, TenantDeletionRecord
from tenants.data.models import TenantDeletionRequest as DeletionRequest
from tenants.data.services import deletion_schedule
from tenants.data.tasks import purge_due_deletions
from tenants.models import Tenant, TenantEvent
from tenants.provisioning import tenant_provision
from tests import celery_support
from tests.celery_support import wait_for
from tests.factories import PASSWORD
from tests.spare_pool import spare_pool_restore
from tests.support import bearer_client, session_world

celery_prefix = celery_support.celery_prefix
committed = celery_support.committed
worker = celery_support.worker

pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]


def test_the_archive_is_built_by_the_worker_in_the_tenants_schema(committed, worker):
    alpha = session_world("alpha")  # committed: the Celery worker reads it
    response = bearer_client(alpha, "owner").post("/api/v1/organization/export/")
    assert response.status_code == 202, response.content
    export_id = response.json()["id"]
    try:
        export = wait_for(
            lambda: DataExport.objects.filter(
                pk=export_id, status__in=[DataExportStatus.DONE, DataExportStatus.FAILED]
            ).first(),
            timeout=60,
            what="the archive",
        )
        assert export.status == DataExportStatus.DONE, (export.error, worker.log()[-3000:])
        download = bearer_client(alpha, "member").get(
            f"/api/v1/organization/export/{export_id}/download/"
        )
        assert download.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
        manifest = json.loads(archive.read(MANIFEST_NAME))
        assert manifest["tenant"]["schema"] == "t_alpha"
        tables = {t["name"]: t["rows"] for t in manifest["tables"]}
        connection.set_tenant(alpha.tenant)
        try:
            assert tables["tenant/orders.order"] == Order.objects.count()
            assert tables["tenant/audit.auditentry"] == AuditEntry.objects.count()
        finally:
            connection.set_schema_to_public()
        members = OrganizationUser.objects.filter(organization_id=alpha.tenant.organization_id)
        assert tables["public/members"] == members.count()
    finally:
        export = DataExport.objects.filter(pk=export_id).first()
        if export is not None and export.file_path:
            default_storage.delete(export.file_path)
        DataExport.objects.filter(pk=export_id).delete()
        TenantEvent.objects.filter(action="data_export.requested").delete()
        connection.set_tenant(alpha.tenant)
        AuditEntry.objects.filter(action="data_export.requested").delete()
        connection.set_schema_to_public()


def test_the_hourly_job_purges_a_tenant_past_its_grace_period(committed, worker):
    tenant = tenant_provision(
        name="Gone Ltd",
        subdomain="gone",
        owner_email="owner@gone.test",
        owner_password=PASSWORD,
    ).tenant
    connection.set_schema_to_public()
    schema = tenant.schema_name
    try:
        connection.set_tenant(tenant)
        try:
            request = deletion_schedule(
                tenant=tenant,
                confirm="gone",
                acting_user=OrganizationUser.objects.get(
                    organization_id=tenant.organization_id
                ).user,
            )
        finally:
            connection.set_schema_to_public()
        DeletionRequest.objects.filter(pk=request.pk).update(
            scheduled_for=timezone.now() - dt.timedelta(minutes=1)
        )
        purge_due_deletions.delay()
        record = wait_for(
            lambda: TenantDeletionRecord.objects.filter(
                subdomain="gone", files_removed_at__isnull=False
            ).first(),
            timeout=60,
            what="the deletion record",
        )
        assert record.schema_name == schema
        assert record.requested_by_email == "owner@gone.test"
        assert not Tenant.objects.filter(subdomain="gone").exists()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema]
            )
            assert cursor.fetchone() is None
    finally:
        leftover = Tenant.objects.filter(subdomain="gone").first()
        if leftover is not None:
            from tenants.services import tenant_destroy

            tenant_destroy(tenant=leftover)
        TenantDeletionRecord.objects.filter(subdomain="gone").delete()
        from shared_apps.accounts.models import User

        User.objects.filter(email="owner@gone.test").delete()
        spare_pool_restore()  # the pool other tests expect
