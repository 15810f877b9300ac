"""Exports on S3 (ADR 0016), against a local S3: moto's server on 127.0.0.1, with the
presigned-URL checks S3 makes and moto does not (tests/s3_server.py).

Files under the tenant's own prefix, presigned downloads handed out by the member-only
API (and expiring), nothing of another tenant reachable, S3 faults as clear errors, and
the daily clean-up deleting objects from the bucket.
"""

from __future__ import annotations

import csv
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from django.core.files.storage import storages
from django.db import connection
from django.utils import timezone

from config.settings.base import s3_storage
from shared_apps.core.errors import ErrorCode, Message, StorageUnavailable
from tenant_apps.exports.models import Export, ExportStatus
from tenant_apps.exports.services import (
    STORAGE_FAILED_REASON,
    export_cleanup,
    export_final,
    export_run,
)
from tenant_apps.exports.tasks import cleanup_exports
from tenants.background.headers import for_tenant
from tenants.storage import AREA_TAG, TenantFileS3Storage, tenant_path
from tests.factories import ExportFactory, OrderFactory
from tests.s3_server import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    FailingS3,
    LocalS3,
    SilentS3,
    closed_port_url,
    free_port,
)
from tests.support import bearer_client, error_of

# Preferred ports of this suite's S3 servers (18200-18299 is the range of these tests);
# one the system picks when another run on the machine holds them.
S3_PORT, CLOSED_PORT, FAILING_PORT, SILENT_PORT = (
    free_port(port) for port in (18210, 18211, 18212, 18213)
)

# One xdist worker runs them all: the servers listen on fixed ports.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("local-s3")]


@dataclass
class Bucket:
    name: str
    client: object  # boto3 S3 client, straight to the local server

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def body(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def tags(self, key: str) -> dict[str, str]:
        tag_set = self.client.get_object_tagging(Bucket=self.name, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}


def _use_storage(settings, *, bucket: str, endpoint_url: str, **options) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage(
            bucket=bucket,
            region=REGION,
            endpoint_url=endpoint_url,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            **options,
        ),
    }


@pytest.fixture(scope="session")
def local_s3():
    server = LocalS3(S3_PORT)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bucket(local_s3, settings) -> Bucket:
    """A fresh bucket on the local S3, and the app's default storage pointed at it."""
    client = boto3.client(
        "s3",
        endpoint_url=local_s3.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    name = f"tessera-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    _use_storage(settings, bucket=name, endpoint_url=local_s3.url)
    return Bucket(name=name, client=client)


def _lowered(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    """GET ``url`` as a browser following the redirect would: no API credentials."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), _lowered(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), _lowered(error.headers)


def _sleep_until(moment: datetime) -> None:
    while (left := (moment - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(min(left, 0.05))


def _done_export(world_tenant) -> Export:
    connection.set_tenant(world_tenant)
    OrderFactory(total=Decimal("12.00"))
    export = export_run(export_id=ExportFactory().pk)
    assert export.status == ExportStatus.DONE, export.error
    connection.set_schema_to_public()
    return export


# Writing ---------------------------------------------------------------------------------


def test_the_default_storage_is_s3_once_configured(bucket):
    storage = storages["default"]
    assert isinstance(storage, TenantFileS3Storage) and storage.bucket_name == bucket.name
    config = storage.client_config
    assert config.connect_timeout == config.read_timeout == 5.0
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_export_is_written_to_the_tenants_prefix_in_the_bucket(bucket, alpha):
    export = _done_export(alpha.tenant)
    assert export.file_path.startswith("tenants/t_alpha/exports/")
    assert export.file_path == f"tenants/t_alpha/exports/{export.uuid}.csv"
    assert bucket.keys() == [export.file_path]
    rows = list(csv.reader(bucket.body(export.file_path).decode().splitlines()))
    assert rows[0][:3] == ["id", "created", "status"] and len(rows) == 2
    # The lifecycle rule of the bucket expires what carries this tag (terraform).
    assert bucket.tags(export.file_path) == {AREA_TAG: "exports"}
    head = bucket.client.head_object(Bucket=bucket.name, Key=export.file_path)
    assert head["ContentType"] == "text/csv"


def test_each_tenant_writes_under_its_own_prefix(bucket, alpha, beta):
    alpha_export = _done_export(alpha.tenant)
    beta_export = _done_export(beta.tenant)
    assert bucket.keys() == sorted([alpha_export.file_path, beta_export.file_path])
    assert alpha_export.file_path.split("/")[:2] == ["tenants", "t_alpha"]
    assert beta_export.file_path.split("/")[:2] == ["tenants", "t_beta"]


def test_the_final_export_of_a_leaving_tenant_is_kept_in_its_own_area(bucket, in_alpha):
    OrderFactory()
    path = export_final(kind="orders_csv")
    assert path.startswith("tenants/t_alpha/final/orders_csv-")
    assert bucket.keys() == [path]
    assert bucket.tags(path) == {AREA_TAG: "final"}  # not expired by the lifecycle rule


# Downloading -------------------------------------------------------------------------------


def test_members_are_redirected_to_a_short_lived_presigned_url(bucket, local_s3, alpha, settings):
    settings.STORAGE_DOWNLOAD_URL_SECONDS = 120
    export = _done_export(alpha.tenant)
    client = bearer_client(alpha, "viewer")

    detail = client.get(f"/api/v1/exports/{export.pk}/").json()
    # The API's own, member-only URL: never a presigned one (it would expire and leak).
    assert detail["download_url"] == f"http://alpha.localhost/api/v1/exports/{export.pk}/download/"

    response = client.get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == local_s3.url
    assert parts.path == f"/{bucket.name}/{export.file_path}"
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Credential"][0].startswith(f"{ACCESS_KEY}/")

    status, body, headers = _fetch(location)
    assert status == 200
    assert body == bucket.body(export.file_path)
    assert headers["content-type"] == "text/csv"
    filename = f"orders_csv-{export.created:%Y%m%d-%H%M%S}.csv"
    assert headers["content-disposition"] == f'attachment; filename="{filename}"'


def test_a_presigned_url_stops_working_when_it_expires(bucket, alpha, settings):
    settings.STORAGE_DOWNLOAD_URL_SECONDS = 1
    export = _done_export(alpha.tenant)
    response = bearer_client(alpha, "member").get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == ["1"]
    # Wait until the URL's own lifetime (from its X-Amz-Date, whole seconds) is over:
    # at most a second, instead of a fixed margin.
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    _sleep_until(signed_at + timedelta(seconds=1, milliseconds=20))
    status, body, _ = _fetch(response["Location"])
    assert status == 403 and b"Request has expired" in body
    # A member simply asks again and gets a fresh URL.
    settings.STORAGE_DOWNLOAD_URL_SECONDS = 60
    again = bearer_client(alpha, "member").get(f"/api/v1/exports/{export.pk}/download/")
    assert _fetch(again["Location"])[0] == 200


def test_a_changed_presigned_url_is_refused(bucket, alpha):
    """The local S3 checks signatures, so the tests below can fail: a URL whose key or
    parameters were edited no longer matches its signature."""
    export = _done_export(alpha.tenant)
    location = bearer_client(alpha).get(f"/api/v1/exports/{export.pk}/download/")["Location"]
    tampered = location.replace("X-Amz-Expires=120", "X-Amz-Expires=604800")
    status, body, _ = _fetch(tampered)
    assert status == 403 and b"SignatureDoesNotMatch" in body


def test_the_bucket_answers_no_unsigned_request(bucket, local_s3, alpha):
    export = _done_export(alpha.tenant)
    status, _, _ = _fetch(f"{local_s3.url}/{bucket.name}/{export.file_path}")
    assert status == 403


def test_another_tenants_member_gets_neither_the_export_nor_its_key(bucket, alpha, beta):
    alpha_export = _done_export(alpha.tenant)
    beta_export = _done_export(beta.tenant)
    connection.set_tenant(beta.tenant)
    Export.objects.filter(pk=alpha_export.pk).exclude(pk=beta_export.pk).delete()
    beta_has_that_id = Export.objects.filter(pk=alpha_export.pk).exists()
    connection.set_schema_to_public()
    beta_owner = bearer_client(beta, "owner")

    if not beta_has_that_id:  # ids are per schema: beta's own export may share the number
        assert beta_owner.get(f"/api/v1/exports/{alpha_export.pk}/").status_code == 404
        response = beta_owner.get(f"/api/v1/exports/{alpha_export.pk}/download/")
        assert response.status_code == 404 and error_of(response)["code"] == ErrorCode.NOT_FOUND
    # alpha's token on beta's host is refused before any export is looked up.
    alpha_on_beta = bearer_client(alpha, "owner", host=beta.host)
    refused = alpha_on_beta.get(f"/api/v1/exports/{beta_export.pk}/download/")
    assert refused.status_code == 401
    assert error_of(refused)["code"] == ErrorCode.TOKEN_NOT_VALID

    # Guessing the key: beta's own presigned URL, pointed at alpha's key, is refused.
    own = beta_owner.get(f"/api/v1/exports/{beta_export.pk}/download/")
    assert own.status_code == 302 and beta_export.file_path in own["Location"]
    guessed = own["Location"].replace(beta_export.file_path, alpha_export.file_path)
    status, body, _ = _fetch(guessed)
    assert status == 403 and b"SignatureDoesNotMatch" in body


def test_a_file_path_outside_the_tenants_prefix_is_never_served(bucket, alpha, beta):
    """Even if a row of beta named alpha's key (a bug, a restored backup), the download
    answers 404 and signs nothing."""
    alpha_export = _done_export(alpha.tenant)
    connection.set_tenant(beta.tenant)
    forged = ExportFactory(status=ExportStatus.DONE, file_path=alpha_export.file_path)
    connection.set_schema_to_public()
    response = bearer_client(beta, "owner").get(f"/api/v1/exports/{forged.pk}/download/")
    assert response.status_code == 404 and "Location" not in response


def test_a_deleted_file_is_a_404(bucket, alpha):
    export = _done_export(alpha.tenant)
    bucket.client.delete_object(Bucket=bucket.name, Key=export.file_path)
    response = bearer_client(alpha).get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 404 and error_of(response)["code"] == ErrorCode.NOT_FOUND


# Clean-up ----------------------------------------------------------------------------------


def test_the_daily_clean_up_deletes_expired_exports_from_the_bucket(bucket, alpha):
    old = _done_export(alpha.tenant)
    fresh = _done_export(alpha.tenant)
    connection.set_tenant(alpha.tenant)
    Export.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=8))
    connection.set_schema_to_public()
    assert bucket.keys() == sorted([old.file_path, fresh.file_path])

    result = cleanup_exports.apply(
        kwargs={"period": "2026-12-01"}, headers=for_tenant(alpha.tenant)
    )
    assert result.get() == 1
    assert bucket.keys() == [fresh.file_path]
    connection.set_tenant(alpha.tenant)
    assert list(Export.objects.values_list("pk", flat=True)) == [fresh.pk]


# S3 failing --------------------------------------------------------------------------------


@pytest.fixture(params=["connection refused", "500 errors", "no answer"])
def broken_s3(request, settings):
    """The app's storage pointed at an S3 that fails, with short timeouts."""
    if request.param == "connection refused":
        server, url = None, closed_port_url(CLOSED_PORT)
    elif request.param == "500 errors":
        server = FailingS3(FAILING_PORT)
        url = server.url
    else:
        server = SilentS3(SILENT_PORT)
        url = server.url
    # A retry stays in (two attempts) where S3 answers or refuses at once, with a timeout
    # that a silent server reaches in a tenth of a second (a local server that answers
    # does so in milliseconds; under load a late answer times out: a failure all the
    # same). A silent server gets one attempt: a retry there only adds botocore's random
    # backoff (up to a second) and another timeout, and the retrying itself is what the
    # other two cases go through.
    attempts = 1 if request.param == "no answer" else 2
    _use_storage(
        settings, bucket="tessera-broken", endpoint_url=url, timeout=0.1, max_attempts=attempts
    )
    if server is None:
        yield request.param
        return
    with server:
        yield request.param


def test_a_failing_s3_fails_the_export_with_a_clear_reason(broken_s3, in_alpha):
    started = time.monotonic()
    export = export_run(export_id=ExportFactory().pk)
    assert time.monotonic() - started < 10
    assert export.status == ExportStatus.FAILED and export.error == STORAGE_FAILED_REASON
    assert Export.objects.get(pk=export.pk).file_path == ""


def test_a_failing_s3_makes_the_download_a_503_with_a_code(broken_s3, alpha):
    connection.set_tenant(alpha.tenant)
    export = ExportFactory(
        status=ExportStatus.DONE, file_path=tenant_path("exports", f"{uuid.uuid4()}.csv")
    )
    connection.set_schema_to_public()
    started = time.monotonic()
    response = bearer_client(alpha, "member").get(f"/api/v1/exports/{export.pk}/download/")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert error_of(response) == {
        "code": ErrorCode.STORAGE_UNAVAILABLE,
        "message": Message.STORAGE_UNAVAILABLE,
        "fields": {},
    }
    # The detail still answers: the database is fine, only the file store is not.
    assert bearer_client(alpha, "member").get(f"/api/v1/exports/{export.pk}/").status_code == 200


def test_a_failing_s3_keeps_expired_exports_for_the_next_clean_up(broken_s3, in_alpha):
    export = ExportFactory(
        status=ExportStatus.DONE, file_path=tenant_path("exports", f"{uuid.uuid4()}.csv")
    )
    Export.objects.filter(pk=export.pk).update(created=timezone.now() - timedelta(days=8))
    assert export_cleanup() == 0
    assert Export.objects.filter(pk=export.pk).exists()


def test_a_missing_bucket_fails_the_export_with_a_clear_reason(local_s3, settings, in_alpha):
    _use_storage(settings, bucket="tessera-no-such-bucket", endpoint_url=local_s3.url)
    export = export_run(export_id=ExportFactory().pk)
    assert export.status == ExportStatus.FAILED and export.error == STORAGE_FAILED_REASON


def test_a_canceled_tenant_is_purged_only_once_its_final_export_is_in_the_bucket(
    bucket, local_s3, settings
):
    """The purge keeps the last export of a canceled tenant before dropping its schema:
    with S3 refusing, the tenant stays (for the next run); with S3 back, it goes, and
    its final export is in the bucket."""
    from tenants import services as tenant_services
    from tenants.models import Tenant, TenantStatus
    from tenants.provisioning import tenant_provision
    from tests.factories import PASSWORD

    settings.BILLING_CANCELED_RETENTION_DAYS = 30
    tenant = tenant_provision(
        name="Leaving",
        subdomain="leaving-s3",
        owner_email="bye@leaving-s3.test",
        owner_password=PASSWORD,
    ).tenant
    connection.set_tenant(tenant)
    OrderFactory(total=Decimal("3.00"))
    connection.set_schema_to_public()
    Tenant.objects.filter(pk=tenant.pk).update(
        status=TenantStatus.CANCELED, status_changed_at=timezone.now() - timedelta(days=31)
    )

    working = settings.STORAGES
    _use_storage(
        settings,
        bucket=bucket.name,
        endpoint_url=closed_port_url(CLOSED_PORT),
        timeout=0.2,
        max_attempts=1,
    )
    with pytest.raises(StorageUnavailable):
        tenant_services.tenants_canceled_purge()
    assert Tenant.objects.filter(pk=tenant.pk).exists() and bucket.keys() == []

    settings.STORAGES = working
    assert tenant_services.tenants_canceled_purge() == [tenant.schema_name]
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    (key,) = bucket.keys()
    assert key.startswith(f"tenants/{tenant.schema_name}/final/orders_csv-")
    assert b"3.00" in bucket.body(key)
