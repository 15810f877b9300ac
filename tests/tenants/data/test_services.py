"""tenants/data/services.py, called directly: an export run twice or failing to store,
expiry of a file-less export, which deletions are due, Stripe refusing or forgetting the
subscription, and the file clean-up after a purge (failing, repeated, or refused because
the schema lives again)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from billing.models import BillingAccount
from billing.services import StripeRejected, customer_ensure
from shared_apps.accounts.models import User
from tenants.data.models import (
    DataExport,
    DataExportStatus,
    TenantDeletionRecord,
    TenantDeletionRequest,
)
from tenants.data.services import (
    data_export_run,
    data_exports_expire,
    deletion_files_pending,
    deletion_files_remove,
    deletion_purge,
    deletions_due,
    subscription_cancel_for_deletion,
)
from tenants.models import Tenant
from tenants.provisioning import tenant_provision
from tenants.services import tenant_destroy
from tenants.storage import tenant_path
from tests.factories import (
    PASSWORD,
    DataExportFactory,
    TenantDeletionRecordFactory,
    TenantDeletionRequestFactory,
)
from tests.spare_pool import spare_pool_restore
from tests.stripe_fake import FakeStripe, subscription_object
from tests.support import TenantWorld


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_finished_export_is_not_run_again(alpha, in_alpha):
    done = DataExportFactory(tenant=in_alpha, done=True, file_path="tenants/t_alpha/x.zip")
    again = data_export_run(export_id=done.pk)
    assert again == done
    assert DataExport.objects.get(pk=done.pk).file_path == "tenants/t_alpha/x.zip"
    assert data_export_run(export_id=987654321) is None


def test_an_export_that_cannot_be_stored_is_marked_failed(alpha, in_alpha, media):
    # The tenant's storage directory is a file: saving the archive fails (an OSError).
    (media / "tenants").mkdir()
    (media / "tenants" / in_alpha.schema_name).write_bytes(b"not a directory")
    export = DataExportFactory(tenant=in_alpha)

    failed = data_export_run(export_id=export.pk)

    stored = DataExport.objects.get(pk=export.pk)
    assert failed.status == stored.status == DataExportStatus.FAILED
    assert stored.error and stored.finished is not None
    assert (stored.file_path, stored.expires_at) == ("", None)


def test_expiry_marks_a_file_less_export_expired_too(alpha, beta, in_alpha):
    path = default_storage.save(tenant_path("data-exports", "a.zip"), ContentFile(b"zip"))
    past = timezone.now() - dt.timedelta(seconds=1)
    with_file = DataExportFactory(tenant=in_alpha, done=True, file_path=path, expires_at=past)
    without = DataExportFactory(tenant=beta.tenant, done=True, file_path="", expires_at=past)
    current = DataExportFactory(tenant=in_alpha, done=True)

    assert data_exports_expire() == 2

    statuses = dict(DataExport.objects.values_list("pk", "status"))
    assert statuses == {
        with_file.pk: DataExportStatus.EXPIRED,
        without.pk: DataExportStatus.EXPIRED,
        current.pk: DataExportStatus.DONE,
    }
    assert not default_storage.exists(path)


def test_only_open_requests_past_their_grace_period_are_due(alpha, beta):
    due = TenantDeletionRequestFactory(tenant=alpha.tenant, due=True)
    TenantDeletionRequestFactory(tenant=beta.tenant)  # grace period still running
    TenantDeletionRequestFactory(tenant=beta.tenant, canceled=True, due=True)
    assert deletions_due() == [due.pk]
    assert deletions_due(now=timezone.now() + dt.timedelta(days=60)) == sorted(
        TenantDeletionRequest.objects.exclude(status="canceled").values_list("pk", flat=True)
    )


def _subscribed(world, fake_stripe) -> str:
    customer = customer_ensure(tenant=world.tenant)
    sub = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id="price_test_starter")
    )
    BillingAccount.objects.filter(tenant=world.tenant).update(stripe_subscription_id=sub["id"])
    return sub["id"]


def test_a_subscription_stripe_no_longer_knows_counts_as_canceled(alpha, fake_stripe):
    subscription_id = _subscribed(alpha, fake_stripe)
    fake_stripe.subscriptions.clear()  # Stripe answers 404
    assert subscription_cancel_for_deletion(tenant=alpha.tenant) == subscription_id
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{subscription_id}")) == 1


def test_stripe_refusing_the_cancel_is_an_error_not_a_cancel(alpha, fake_stripe):
    subscription_id = _subscribed(alpha, fake_stripe)
    fake_stripe.reject(f"DELETE /v1/subscriptions/{subscription_id}", 1, "Cannot cancel.")
    with pytest.raises(StripeRejected):
        subscription_cancel_for_deletion(tenant=alpha.tenant)
    assert fake_stripe.subscriptions[subscription_id]["status"] == "active"


def test_files_left_by_a_failing_store_are_removed_by_the_next_run(
    doomed, settings, media, django_capture_on_commit_callbacks
):
    settings.STRIPE_SECRET_KEY = ""
    tenant = doomed.tenant
    request = TenantDeletionRequestFactory(tenant=tenant, due=True)
    # The tenant's storage prefix is a file: listing it fails (an OSError).
    (media / "tenants").mkdir()
    blocker = media / "tenants" / tenant.schema_name
    blocker.write_bytes(b"in the way")

    record = deletion_purge(request_id=request.pk)

    assert record is not None and not TenantDeletionRequest.objects.filter(pk=request.pk).exists()
    assert TenantDeletionRecord.objects.get(pk=record.pk).files_removed_at is None
    assert deletion_files_pending() == [record]

    blocker.unlink()
    (media / "tenants" / tenant.schema_name / "exports").mkdir(parents=True)
    (media / "tenants" / tenant.schema_name / "exports" / "left.csv").write_bytes(b"id\n")
    assert deletion_files_remove(record=record) == 1
    stored = TenantDeletionRecord.objects.get(pk=record.pk)
    assert stored.files_removed_at is not None and stored.removed["files"] == 1
    assert not (media / "tenants" / tenant.schema_name).exists()
    assert deletion_files_pending() == []
    assert deletion_files_remove(record=stored) == 0  # done already


def test_files_of_a_schema_in_use_again_are_kept(alpha, in_alpha, media):
    path = default_storage.save(tenant_path("exports", "mine.csv"), ContentFile(b"id\n"))
    connection.set_schema_to_public()
    record = TenantDeletionRecordFactory(schema_name=alpha.schema_name)
    assert deletion_files_remove(record=record) == 0
    assert default_storage.exists(path)
    assert TenantDeletionRecord.objects.get(pk=record.pk).files_removed_at is None


class _GatedStripe(FakeStripe):
    """The fake Stripe, holding the first subscription cancel until ``release`` is set
    (the other requests are served meanwhile: the server is threaded)."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self._held = False
        super().__init__()

    def _handler(self):
        base, fake = super()._handler(), self

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_DELETE(self):
                if not fake._held:
                    fake._held = True
                    fake.entered.set()
                    fake.release.wait(timeout=30)
                super().do_DELETE()

        return Handler


def test_a_purge_overtaken_by_another_purge_does_nothing(committed_db, settings):
    """Two purges of one request (a retry while the first waits on Stripe): the second
    finishes the job; the first then finds the request gone and returns None."""
    stripe = _GatedStripe().start()
    settings.STRIPE_SECRET_KEY = "sk_test_51TesseraFakeKey0000000000000000"
    settings.STRIPE_API_BASE = stripe.base_url
    tenant = tenant_provision(
        name="Raced Ltd", subdomain="raced", owner_email="owner@raced.test", owner_password=PASSWORD
    ).tenant
    connection.set_schema_to_public()
    first: list[object] = []

    def purge_in_a_thread(request_id: int) -> None:
        try:
            first.append(deletion_purge(request_id=request_id))
        finally:
            connection.close()

    try:
        _subscribed(TenantWorld("raced", "raced.localhost", tenant.schema_name), stripe)
        request = TenantDeletionRequestFactory(tenant=tenant, due=True)
        thread = threading.Thread(target=purge_in_a_thread, args=(request.pk,))
        thread.start()
        assert stripe.entered.wait(timeout=30), "the first purge never reached Stripe"

        record = deletion_purge(request_id=request.pk)  # the second, while the first waits
        stripe.release.set()
        thread.join(timeout=30)

        assert record is not None and record.subdomain == "raced"
        assert first == [None]
        assert TenantDeletionRecord.objects.filter(subdomain="raced").count() == 1
        assert not Tenant.objects.filter(subdomain="raced").exists()
        assert len(stripe.calls("DELETE", "/v1/subscriptions/")) == 2  # same idempotency key
    finally:
        stripe.release.set()
        stripe.stop()
        import stripe as stripe_library

        stripe_library.api_base = "https://api.stripe.com"
        leftover = Tenant.objects.filter(subdomain="raced").first()
        if leftover is not None:
            tenant_destroy(tenant=leftover)
        TenantDeletionRecord.objects.filter(subdomain="raced").delete()
        User.objects.filter(email="owner@raced.test").delete()
        spare_pool_restore()  # the pool other tests expect
