"""One attempt, in this process, against a real local receiver: claim, sign, send,
record, retry, disable (the worker-driven tests are in test_webhook_delivery.py)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.core import mail
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tenant_apps.integrations import delivery, destinations
from tenant_apps.integrations.events import outbox_write
from tenant_apps.integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenant_apps.integrations.services import new_secret
from tests.support import bearer_client


def _endpoint(receiver, path: str, **extra) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url=receiver.url(path), events=["order.created"], secret=new_secret(), **extra
    )


def _due(endpoint: WebhookEndpoint, tenant) -> WebhookDelivery:
    event = outbox_write(
        event_type="order.created", data={"id": 1}, endpoint_ids=[endpoint.pk], tenant=tenant
    )
    delivery.dispatch(event.pk)
    return WebhookDelivery.objects.get(event=event, endpoint=endpoint)


def test_a_2xx_is_success_and_the_receiver_can_verify_it(in_alpha, receiver):
    endpoint = _endpoint(receiver, "/ok")
    row = _due(endpoint, in_alpha)
    before = len(receiver.received("/ok"))
    assert delivery.deliver_next(endpoint.pk) == ("sent", None)
    got = receiver.received("/ok")[before:]
    assert len(got) == 1
    payload = Webhook(endpoint.secret).verify(got[0].body, got[0].headers)
    assert payload["type"] == "order.created" and payload["tenant"] == "alpha"
    assert got[0].headers["webhook-id"] == row.event.public_id
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SUCCEEDED and row.last_status_code == 204
    attempt = WebhookAttempt.objects.get(delivery=row)
    assert (attempt.number, attempt.status_code, attempt.next_retry_at) == (1, 204, None)
    assert delivery.deliver_next(endpoint.pk) == ("idle", None)


def test_a_failure_is_logged_with_its_next_retry(in_alpha, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [60, 600]
    settings.WEBHOOK_RETRY_JITTER = 0.0
    endpoint = _endpoint(receiver, "/status/503")
    row = _due(endpoint, in_alpha)
    outcome, retry_in = delivery.deliver_next(endpoint.pk)
    assert (outcome, retry_in) == ("failed", 60.0)
    row.refresh_from_db()
    attempt = WebhookAttempt.objects.get(delivery=row)
    assert attempt.status_code == 503 and attempt.error == "HTTP 503"
    assert attempt.next_retry_at == row.next_attempt_at and row.status == DeliveryStatus.PENDING
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    # not due yet: nothing to send
    assert delivery.deliver_next(endpoint.pk) == ("idle", None)
    WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver_next(endpoint.pk)[0] == "failed"
    WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver_next(endpoint.pk) == ("failed", None)  # schedule exhausted
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 3
    assert list(row.attempt_log.values_list("number", flat=True)) == [1, 2, 3]


def test_same_webhook_id_on_every_attempt(in_alpha, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0]
    endpoint = _endpoint(receiver, "/flaky/1")
    row = _due(endpoint, in_alpha)
    assert delivery.deliver_next(endpoint.pk)[0] == "failed"
    assert delivery.deliver_next(endpoint.pk)[0] == "sent"
    got = receiver.received("/flaky/1")
    assert [r.headers["webhook-id"] for r in got] == [row.event.public_id] * 2
    assert Webhook(endpoint.secret).verify(got[1].body, got[1].headers)["id"] == row.event.public_id


def test_one_delivery_in_flight_per_endpoint_and_a_lost_lease_is_taken_over(in_alpha, receiver):
    endpoint = _endpoint(receiver, "/ok")
    first = _due(endpoint, in_alpha)
    _due(endpoint, in_alpha)
    claim = delivery.claim_next(endpoint.pk)
    assert isinstance(claim, delivery.Claim) and claim.delivery.pk == first.pk  # oldest first
    assert delivery.claim_next(endpoint.pk) == delivery.BUSY
    # The worker holding it died (kill -9): once its lease runs out, another takes it.
    WebhookDelivery.objects.filter(pk=first.pk).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    again = delivery.claim_next(endpoint.pk)
    assert isinstance(again, delivery.Claim) and again.delivery.pk == first.pk


def test_an_endpoint_failing_too_long_is_disabled_and_owners_emailed(
    in_alpha, receiver, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(
        receiver, "/status/500", failing_since=timezone.now() - timedelta(days=3, seconds=1)
    )
    _due(endpoint, in_alpha)
    other = _due(endpoint, in_alpha)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver_next(endpoint.pk)[0] == "failed"
    endpoint.refresh_from_db()
    assert endpoint.enabled is False and "failed since" in endpoint.disabled_reason
    other.refresh_from_db()
    assert other.status == DeliveryStatus.FAILED and other.last_error == "Endpoint disabled."
    assert [m.to for m in mail.outbox] == [["owner@alpha.test"]]
    assert endpoint.url in mail.outbox[0].body
    assert delivery.deliver_next(endpoint.pk) == ("idle", None)


def test_redirects_are_not_followed(receiver):
    before = len(receiver.received("/ok"))
    response = destinations.post(receiver.url("/redirect"), body=b"{}", headers={})
    assert response.status_code == 302 and "redirects are not followed" in response.error
    assert len(receiver.received("/ok")) == before


def test_a_huge_body_is_cut_at_64_kib(receiver):
    started = time.monotonic()
    response = destinations.post(receiver.url("/huge"), body=b"{}", headers={})
    assert response.status_code == 200 and "64 KiB" in response.error
    assert len(response.body) <= destinations.LOGGED_BODY_BYTES
    assert time.monotonic() - started < 5


def test_a_hanging_receiver_times_out(receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    started = time.monotonic()
    response = destinations.post(receiver.url("/hang"), body=b"{}", headers={})
    elapsed = time.monotonic() - started
    assert response.status_code is None and "Timed out" in response.error
    assert 0.45 <= elapsed < 2.5 and response.duration_ms >= 450


def test_timeouts_are_capped_at_ten_seconds(settings):
    settings.WEBHOOK_TIMEOUT = 60
    settings.WEBHOOK_CONNECT_TIMEOUT = 30
    assert destinations._timeouts() == (10.0, 10.0)


def test_nothing_listening_is_a_failed_attempt(settings):
    from tests.tenant_apps.integrations.receiver import port_is_free

    port = next(p for p in range(18590, 18600) if port_is_free(p))
    response = destinations.post(f"http://127.0.0.1:{port}/", body=b"{}", headers={})
    assert response.status_code is None and response.error.startswith("Connection failed")


def test_deliveries_log_and_redeliver_through_the_api(alpha, receiver):
    connection.set_tenant(alpha.tenant)
    endpoint = _endpoint(receiver, "/ok")
    row = _due(endpoint, alpha.tenant)
    delivery.deliver_next(endpoint.pk)
    connection.set_schema_to_public()
    owner = bearer_client(alpha, "owner")
    log = owner.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}/deliveries/")
    assert log.status_code == 200
    (entry,) = log.json()["results"]
    assert entry["id"] == row.pk and entry["status"] == "succeeded"
    assert entry["event"] == row.event.public_id and entry["event_type"] == "order.created"
    assert [a["status_code"] for a in entry["attempts"]] == [204]
    assert set(entry["attempts"][0]) == {
        "number",
        "started_at",
        "status_code",
        "duration_ms",
        "error",
        "response_body",
        "next_retry_at",
    }
    again = owner.post(f"/api/v1/webhooks/deliveries/{row.pk}/redeliver/")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    connection.set_tenant(alpha.tenant)
    assert delivery.deliver_next(endpoint.pk)[0] == "sent"
    ids = [r.headers["webhook-id"] for r in receiver.received("/ok")]
    assert ids.count(row.event.public_id) == 2
    assert list(row.attempt_log.values_list("number", flat=True)) == [1, 2]


def test_a_batch_sends_the_backlog_in_order_and_stops_at_a_failure(in_alpha, receiver):
    endpoint = _endpoint(receiver, "/ok")
    rows = [_due(endpoint, in_alpha) for _ in range(3)]
    before = len(receiver.received("/ok"))
    assert delivery.deliver_batch(endpoint.pk, limit=10, seconds=10) == ("idle", 3, None)
    got = receiver.received("/ok")[before:]
    assert [r.headers["webhook-id"] for r in got] == [r.event.public_id for r in rows]
    assert delivery.deliver_batch(endpoint.pk, limit=10, seconds=10) == ("idle", 0, None)
    _due(endpoint, in_alpha)
    _due(endpoint, in_alpha)
    assert delivery.deliver_batch(endpoint.pk, limit=1, seconds=10) == ("more", 1, None)
    failing = _endpoint(receiver, "/status/500")
    _due(failing, in_alpha)
    _due(failing, in_alpha)
    outcome, attempts, retry_in = delivery.deliver_batch(failing.pk, limit=10, seconds=10)
    assert (outcome, attempts) == ("failed", 1) and retry_in is not None
