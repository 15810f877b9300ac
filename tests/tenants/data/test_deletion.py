"""A tenant's data, gone: the owner schedules the organisation's deletion with a typed
confirmation, can cancel during the grace period, and the purge afterwards cancels the
Stripe subscription and leaves no schema, no public row and no file behind, only a
record. Beta is untouched throughout."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from billing.models import BillingAccount, UsageReport
from billing.services import customer_ensure
from billing.stripe_client import StripeUnavailable
from shared_apps.core.errors import ErrorCode
from shared_apps.organizations.models import Organization, OrganizationUser
from tenants.data.archive import tenant_models
from tenants.data.errors import Code, DeletionConfirmationMismatch
from tenants.data.models import DeletionStatus, TenantDeletionRecord, TenantDeletionRequest
from tenants.data.services import data_export_request, data_export_run, deletion_purge
from tenants.data.tasks import send_deletion_email
from tenants.models import Tenant, TenantEvent
from tenants.storage import tenant_path
from tests.factories import InvitationFactory, OrderFactory
from tests.stripe_fake import subscription_object
from tests.support import TenantWorld, bearer_client, error_of

URL = "/api/v1/organization/deletion/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _schedule(world, django_capture_on_commit_callbacks) -> dict:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = bearer_client(world, "owner").post(
            URL, {"confirm": world.subdomain}, format="json"
        )
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1  # the owners' email, after commit
    return response.json()


def test_schedule_needs_the_typed_subdomain_and_an_owner(alpha, settings):
    owner = bearer_client(alpha, "owner")
    wrong = owner.post(URL, {"confirm": "beta"}, format="json")
    assert wrong.status_code == 400
    assert error_of(wrong) == {
        "code": Code.DELETION_CONFIRMATION_MISMATCH,
        "message": DeletionConfirmationMismatch.message,
        "fields": {"confirm": [DeletionConfirmationMismatch.message]},
    }
    missing = owner.post(URL, {}, format="json")
    assert missing.status_code == 400
    assert error_of(missing)["code"] == ErrorCode.VALIDATION_ERROR
    assert set(error_of(missing)["fields"]) == {"confirm"}

    admin = bearer_client(alpha, "admin").post(URL, {"confirm": "alpha"}, format="json")
    assert admin.status_code == 403
    assert error_of(admin)["code"] == ErrorCode.PERMISSION_DENIED
    assert not TenantDeletionRequest.objects.filter(tenant=alpha.tenant).exists()


def test_schedule_twice_cancel_and_get(alpha, beta, settings, django_capture_on_commit_callbacks):
    before = timezone.now()
    body = _schedule(alpha, django_capture_on_commit_callbacks)
    scheduled_for = dt.datetime.fromisoformat(body["scheduled_for"])
    grace = dt.timedelta(days=settings.TENANT_DELETION_GRACE_DAYS)
    assert before + grace <= scheduled_for <= timezone.now() + grace
    assert body["scheduled"] is True and body["requested_by"] == "owner@alpha.test"

    again = bearer_client(alpha, "owner").post(URL, {"confirm": "alpha"}, format="json")
    assert again.status_code == 409
    assert error_of(again)["code"] == Code.DELETION_ALREADY_SCHEDULED
    # Every member sees the schedule; beta sees none of it.
    shown = bearer_client(alpha, "viewer").get(URL).json()
    assert shown["scheduled_for"] == body["scheduled_for"] and shown["grace_period_over"] is False
    assert bearer_client(beta, "owner").get(URL).json()["scheduled"] is False
    # While scheduled the organisation works as before (reads and writes).
    product = bearer_client(alpha, "member").post(
        "/api/v1/products/", {"name": "still here", "price": "1.00"}, format="json"
    )
    assert product.status_code == 201, product.content

    assert bearer_client(alpha, "admin").delete(URL).status_code == 403
    assert bearer_client(beta, "owner").delete(URL).status_code == 409  # nothing of beta's
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        canceled = bearer_client(alpha, "owner").delete(URL)
    assert canceled.status_code == 200, canceled.content
    assert canceled.json()["scheduled"] is False
    assert len(callbacks) == 1
    request = TenantDeletionRequest.objects.get(tenant=alpha.tenant)
    assert request.status == DeletionStatus.CANCELED
    assert request.canceled_by == alpha.user("owner")
    assert list(
        TenantEvent.objects.filter(tenant=alpha.tenant, action__startswith="deletion.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["deletion.scheduled", "deletion.canceled"]
    again = bearer_client(alpha, "owner").delete(URL)
    assert again.status_code == 409
    assert error_of(again)["code"] == Code.DELETION_NOT_SCHEDULED
    # A new request after a cancel starts a new grace period.
    assert _schedule(alpha, django_capture_on_commit_callbacks)["scheduled"] is True


def test_cancel_after_the_grace_period_is_409(alpha, django_capture_on_commit_callbacks):
    _schedule(alpha, django_capture_on_commit_callbacks)
    TenantDeletionRequest.objects.filter(tenant=alpha.tenant).update(
        scheduled_for=timezone.now() - dt.timedelta(seconds=1)
    )
    late = bearer_client(alpha, "owner").delete(URL)
    assert late.status_code == 409
    assert error_of(late)["code"] == Code.DELETION_GRACE_PERIOD_OVER
    assert bearer_client(alpha, "owner").get(URL).json()["grace_period_over"] is True
    assert TenantDeletionRequest.objects.get(tenant=alpha.tenant).status == DeletionStatus.SCHEDULED


def test_owners_are_emailed_on_schedule_and_cancel(alpha, django_capture_on_commit_callbacks):
    _schedule(alpha, django_capture_on_commit_callbacks)
    request = TenantDeletionRequest.objects.get(tenant=alpha.tenant)
    assert send_deletion_email(request.pk, "scheduled") == 1
    (scheduled,) = mail.outbox
    assert scheduled.to == ["owner@alpha.test"]
    assert "scheduled for deletion" in scheduled.subject
    assert f"{request.scheduled_for:%Y-%m-%d %H:%M}" in scheduled.body
    assert "DELETE https://alpha.localhost/api/v1/organization/deletion/" in scheduled.body
    with django_capture_on_commit_callbacks(execute=False):
        bearer_client(alpha, "owner").delete(URL)
    assert send_deletion_email(request.pk, "canceled") == 1
    assert "canceled" in mail.outbox[1].subject
    assert "owner@alpha.test" in mail.outbox[1].body


def _fill(world: TenantWorld) -> tuple[list[str], int]:
    """Data, files and public rows for the tenant; returns its file paths and orders."""
    tenant = world.tenant
    connection.set_tenant(tenant)
    try:
        for _ in range(4):
            OrderFactory(total=Decimal("3.00"))
        export = data_export_run(
            export_id=data_export_request(tenant=tenant, acting_user=world.user("owner")).pk
        )
        other = default_storage.save(tenant_path("exports", "orders.csv"), ContentFile(b"id\n"))
    finally:
        connection.set_schema_to_public()
    InvitationFactory(organization=tenant.organization, invitee_identifier="x@invitee.test")
    UsageReport.objects.create(tenant=tenant, period="p1", quantity=4, idempotency_key="doomed-p1")
    return [export.file_path, other], 4


def _public_rows_of(tenant_id: int, organization_id: int) -> dict[str, int]:
    """Rows of every public model pointing at the tenant or its organisation."""
    tenant_labels = {
        m._meta.label for m in apps.get_models() if m._meta.app_label in _TENANT_APP_LABELS
    }
    found = {"tenants.Tenant": Tenant.objects.filter(pk=tenant_id).count()}
    for model in apps.get_models():
        if model is Tenant or model._meta.label in tenant_labels or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in (Tenant, Organization):
                value = tenant_id if field.related_model is Tenant else organization_id
                count = model._base_manager.filter(**{field.attname: value}).count()
                found[f"{model._meta.label}.{field.name}"] = count
    return found


_TENANT_APP_LABELS = {m._meta.app_label for m in tenant_models(exported_only=False)}


def tenant_state(world: TenantWorld) -> dict:
    """Every row of the tenant's schema and of its public rows (one query)."""
    tenant = world.tenant
    schema = connection.ops.quote_name(world.schema_name)
    parts, params = [], []
    for model in tenant_models(exported_only=False):
        table = f"{schema}.{connection.ops.quote_name(model._meta.db_table)}"
        parts.append(f"'{model._meta.label}', (SELECT json_agg(t ORDER BY t) FROM {table} t)")
    for model in apps.get_models():
        if model._meta.app_label in _TENANT_APP_LABELS or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in (Tenant, Organization):
                value = tenant.pk if field.related_model is Tenant else tenant.organization_id
                table = connection.ops.quote_name(model._meta.db_table)
                column = connection.ops.quote_name(field.column)
                parts.append(
                    f"'{model._meta.label}.{field.column}', (SELECT json_agg(t ORDER BY t) "
                    f"FROM public.{table} t WHERE t.{column} = %s)"
                )
                params.append(value)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT json_build_object({', '.join(parts)})::text", params)
        return json.loads(cursor.fetchone()[0])


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def test_purge_after_the_grace_period_leaves_nothing_but_the_record(
    doomed, alpha, beta, media, fake_stripe, django_capture_on_commit_callbacks
):
    tenant = doomed.tenant
    customer = customer_ensure(tenant=tenant)
    subscription = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id="price_test_starter")
    )
    BillingAccount.objects.filter(tenant=tenant).update(stripe_subscription_id=subscription["id"])
    files, orders = _fill(doomed)
    assert all(default_storage.exists(path) for path in files)
    tenant_id, organization_id, schema = tenant.pk, tenant.organization_id, tenant.schema_name
    assert sum(_public_rows_of(tenant_id, organization_id).values()) > 5
    beta_before = tenant_state(beta)

    body = _schedule(doomed, django_capture_on_commit_callbacks)
    request = TenantDeletionRequest.objects.get(tenant=tenant)
    due = dt.datetime.fromisoformat(body["scheduled_for"])
    # Not yet: nothing happens before the grace period is over.
    assert deletion_purge(request_id=request.pk, now=due - dt.timedelta(seconds=1)) is None
    assert Tenant.objects.filter(pk=tenant_id).exists() and _schema_exists(schema)

    record = deletion_purge(request_id=request.pk, now=due + dt.timedelta(seconds=1))

    assert record is not None
    assert not _schema_exists(schema)
    leftovers = {k: v for k, v in _public_rows_of(tenant_id, organization_id).items() if v}
    assert leftovers == {}
    assert not any(default_storage.exists(path) for path in files)
    assert not (media / "tenants" / schema).exists()
    # Stripe: the subscription was canceled, once, with an idempotency key.
    (cancel,) = fake_stripe.calls("DELETE", "/v1/subscriptions/")
    assert cancel["path"] == f"/v1/subscriptions/{subscription['id']}"
    assert cancel["idempotency_key"]
    assert fake_stripe.subscriptions[subscription["id"]]["status"] == "canceled"
    # The record: who, when, what.
    record.refresh_from_db()
    assert record == TenantDeletionRecord.objects.get(subdomain="doomed")
    assert (record.tenant_pk, record.schema_name, record.organization_name) == (
        tenant_id,
        schema,
        "Doomed Ltd",
    )
    assert record.requested_by_email == "owner@doomed.test"
    assert record.stripe_subscription_canceled == subscription["id"]
    assert record.files_removed_at is not None
    assert record.removed["tenant_tables"]["orders.order"] == orders
    assert record.removed["public_rows"]["organizations.organizationuser"] == 2
    assert record.removed["public_rows"]["organizations.organizationinvitation"] == 1
    assert record.removed["public_rows"]["billing.usagereport"] == 1
    assert record.removed["public_rows"]["djstripe.customer"] == 1
    assert record.removed["files"] == 2
    # Beta untouched; a second run finds nothing to do.
    assert tenant_state(beta) == beta_before
    assert deletion_purge(request_id=request.pk, now=due + dt.timedelta(days=1)) is None
    # Accounts are people's, not the organisation's: the owner's user remains.
    assert doomed.user("owner").is_active


def test_stripe_failing_deletes_nothing_and_the_retry_finishes(
    doomed, fake_stripe, django_capture_on_commit_callbacks
):
    tenant = doomed.tenant
    customer = customer_ensure(tenant=tenant)
    subscription = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id="price_test_starter")
    )
    BillingAccount.objects.filter(tenant=tenant).update(stripe_subscription_id=subscription["id"])
    _schedule(doomed, django_capture_on_commit_callbacks)
    request = TenantDeletionRequest.objects.get(tenant=tenant)
    later = request.scheduled_for + dt.timedelta(minutes=1)
    fake_stripe.fail(f"DELETE /v1/subscriptions/{subscription['id']}", 100)

    with pytest.raises(StripeUnavailable):
        deletion_purge(request_id=request.pk, now=later)

    assert _schema_exists(tenant.schema_name)
    assert OrganizationUser.objects.filter(organization_id=tenant.organization_id).count() == 2
    request.refresh_from_db()
    assert request.status == DeletionStatus.PURGING and request.last_error
    # Past the grace period, it can no longer be canceled either.
    assert bearer_client(doomed, "owner").delete(URL).status_code == 409
    assert not TenantDeletionRecord.objects.filter(subdomain="doomed").exists()

    fake_stripe.failures.clear()
    record = deletion_purge(request_id=request.pk, now=later)
    assert record is not None and not _schema_exists(tenant.schema_name)


def test_billing_disabled_skips_stripe(doomed, settings, django_capture_on_commit_callbacks):
    settings.STRIPE_SECRET_KEY = ""
    BillingAccount.objects.filter(tenant=doomed.tenant).update(stripe_subscription_id="sub_x")
    _schedule(doomed, django_capture_on_commit_callbacks)
    request = TenantDeletionRequest.objects.get(tenant=doomed.tenant)
    record = deletion_purge(request_id=request.pk, now=request.scheduled_for)
    assert record is not None and record.stripe_subscription_canceled == ""
    assert not _schema_exists(doomed.schema_name)
