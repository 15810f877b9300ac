"""Deliveries end to end: API write → outbox row → after commit → a real Celery worker
(``bulk`` queue) → a real HTTP receiver on 127.0.0.1, verified with ``standardwebhooks``.

These tests commit (a worker only sees committed data) and clean the tenant tables they
touched afterwards.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tenant_apps.integrations import events
from tenant_apps.integrations.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenant_apps.integrations.tasks import sweep_schema, sweep_webhook_deliveries
from tenant_apps.orders.models import Customer
from tenant_apps.orders.services import order_create
from tests import celery_support
from tests.celery_support import SESSION_WORKER_ENV, wait_for
from tests.support import bearer_client
from tests.tenant_apps.integrations.receiver import endpoint_on, in_tenant, place_order, stock

celery_prefix = celery_support.celery_prefix
committed = celery_support.committed
worker = celery_support.worker

pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]


# The session tenants without ``db``: these tests commit (conftest's ``committed_db``).
@pytest.fixture
def alpha(committed_alpha):
    return committed_alpha


@pytest.fixture
def beta(committed_beta):
    return committed_beta


@pytest.fixture
def clean(committed, worker, clean_webhooks):
    """The session worker (its quick webhook settings: ``SESSION_WORKER_ENV``), and the
    session tenants' webhook and order tables emptied afterwards."""
    yield


def test_order_created_is_delivered_signed_and_only_to_its_tenant(clean, receiver, alpha, beta):
    alpha_endpoint = endpoint_on(alpha, receiver.url("/alpha"))
    endpoint_on(beta, receiver.url("/beta"))
    product, customer = stock(alpha)
    order = place_order(alpha, product, customer)

    (got,) = wait_for(lambda: receiver.received("/alpha"), timeout=20, what="delivery")
    payload = Webhook(alpha_endpoint["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "order.created" and payload["tenant"] == "alpha"
    assert payload["id"].startswith("evt_") and payload["id"] == got.headers["webhook-id"]
    assert payload["data"] == order  # the API's own detail shape
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD").verify(got.body, got.headers)

    log = wait_for(
        lambda: [
            d
            for d in bearer_client(alpha, "owner")
            .get(f"/api/v1/webhooks/endpoints/{alpha_endpoint['id']}/deliveries/")
            .json()["results"]
            if d["status"] == "succeeded"
        ],
        timeout=10,
        what="delivery log",
    )
    assert log[0]["attempts"][0]["status_code"] == 204
    # Alpha's event was dispatched to alpha's endpoint only (its deliveries are all there
    # is to send), beta's schema has no event at all, and beta's endpoint never hears of
    # alpha's order.
    assert in_tenant(alpha, lambda: WebhookDelivery.objects.count()) == 1
    assert in_tenant(beta, lambda: WebhookEvent.objects.count()) == 0
    time.sleep(0.2)
    assert receiver.received("/beta") == []


def test_a_rolled_back_order_sends_nothing(clean, receiver, alpha):
    endpoint_on(alpha, receiver.url("/rollback"))
    product, customer = stock(alpha)
    connection.set_tenant(alpha.tenant)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            order_create(
                customer=Customer.objects.get(pk=customer),
                items=[{"product": product, "quantity": 1}],
                notes="rolled back",
                acting_user=None,
            )
            raise RuntimeError("the request failed after the order was written")
        assert WebhookEvent.objects.count() == 0
    finally:
        connection.set_schema_to_public()
    place_order(alpha, product, customer)  # a committed one after it, as a marker
    (got,) = wait_for(lambda: receiver.received("/rollback"), timeout=20, what="delivery")
    assert json.loads(got.body)["data"]["notes"] == ""
    assert in_tenant(alpha, lambda: WebhookEvent.objects.count()) == 1  # the marker's only
    time.sleep(0.2)
    assert len(receiver.received("/rollback")) == 1


def test_a_lost_enqueue_is_delivered_by_the_sweeper(clean, receiver, alpha, monkeypatch):
    """Crash between commit and enqueue: the outbox row is committed, no task was sent."""
    endpoint_on(alpha, receiver.url("/lost"))
    product, customer = stock(alpha)
    monkeypatch.setattr(events, "_enqueue_dispatch", lambda event_id: None)
    place_order(alpha, product, customer)
    connection.set_tenant(alpha.tenant)
    event = WebhookEvent.objects.get()
    assert event.dispatched_at is None
    connection.set_schema_to_public()
    time.sleep(0.3)  # time enough for a dispatch to be delivered (tens of ms), had one been sent
    assert receiver.received("/lost") == []
    # The periodic sweeper (beat, every 30 s) leaves fresh rows 10 s to their own
    # dispatch; this one is older than that.
    connection.set_tenant(alpha.tenant)
    WebhookEvent.objects.filter(pk=event.pk).update(created=timezone.now() - timedelta(seconds=11))
    connection.set_schema_to_public()
    totals = sweep_webhook_deliveries.apply().get()
    assert totals["events"] == 1 and totals["tenants"] >= 2
    (got,) = wait_for(lambda: receiver.received("/lost"), timeout=20, what="swept delivery")
    assert got.headers["webhook-id"] == event.public_id


def test_the_dispatch_is_published_once_the_response_is_out(
    committed, clean_webhooks, receiver, alpha, monkeypatch
):
    """ADR 0030: a request's commit queues the dispatch; the server has written the whole
    201 before anything is published, and it is published (to alpha, with the request's
    id) when the server closes the response."""
    from django.core.handlers.wsgi import WSGIHandler

    from tenant_apps.integrations import tasks
    from tenants.authentication import tenant_token_pair
    from tenants.background.headers import REQUEST_ID_HEADER, TENANT_SCHEMA_HEADER
    from tests.benchmarks.webhooks import order_environ

    endpoint_on(alpha, receiver.url("/after"))
    product, customer = stock(alpha)
    published: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(
        tasks.dispatch_webhook_event,
        "apply_async",
        lambda args, **options: published.append((args, options["headers"])),
    )
    token = tenant_token_pair(user=alpha.user("member"), tenant=alpha.tenant)["access"]
    body = json.dumps({"customer": customer, "items": [{"product": product, "quantity": 1}]})
    environ = order_environ(alpha.host, token, body.encode())
    environ["HTTP_X_REQUEST_ID"] = "req-after-response"
    statuses: list[str] = []
    response = WSGIHandler()(environ, lambda status, *_: statuses.append(status))
    sent = b"".join(response)  # what the server writes to the client
    assert statuses == ["201 Created"] and json.loads(sent)["id"]
    event = in_tenant(alpha, lambda: WebhookEvent.objects.get())
    assert published == []  # committed, but nothing published while the client waits
    response.close()
    assert published == [
        ((event.pk,), {**published[0][1], TENANT_SCHEMA_HEADER: alpha.tenant.schema_name})
    ]
    assert published[0][1][REQUEST_ID_HEADER] == "req-after-response"


def test_500_then_200_is_retried_with_the_same_webhook_id(clean, receiver, alpha):
    endpoint = endpoint_on(alpha, receiver.url("/flaky/1"))
    product, customer = stock(alpha)
    place_order(alpha, product, customer)
    # First retry after WEBHOOK_RETRY_SCHEDULE[0] (the session worker's 0.2 s; 5 s in
    # production), queued with a countdown.
    got = wait_for(
        lambda: receiver.received("/flaky/1")[1:] and receiver.received("/flaky/1"),
        timeout=10,
        what="retry",
    )
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    Webhook(endpoint["secret"]).verify(got[1].body, got[1].headers)
    connection.set_tenant(alpha.tenant)
    row = wait_for(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first(),
        timeout=10,
        what="succeeded",
    )
    assert list(row.attempt_log.values_list("status_code", flat=True)) == [500, 200]
    assert row.attempt_log.first().next_retry_at is not None


def test_a_hanging_endpoint_does_not_hold_up_others(clean, receiver, alpha, beta):
    """Alpha's endpoint hangs; beta's deliveries (and alpha's other endpoint) go on.

    The session worker gives an attempt ``SESSION_WORKER_ENV["WEBHOOK_TIMEOUT"]`` seconds:
    beta's delivery must arrive while alpha's attempt is still hanging. The receiver
    hangs on the first request only, so the retry after the timeout is answered and no
    attempt is left hanging when the test ends."""
    assert float(SESSION_WORKER_ENV["WEBHOOK_TIMEOUT"]) >= 3
    endpoint_on(alpha, receiver.url("/hang-once/alpha"))
    endpoint_on(beta, receiver.url("/beta-ok"))
    alpha_product, alpha_customer = stock(alpha)
    beta_product, beta_customer = stock(beta)
    place_order(alpha, alpha_product, alpha_customer)
    wait_for(lambda: receiver.received("/hang-once/alpha"), timeout=20, what="hanging request")
    place_order(beta, beta_product, beta_customer)
    wait_for(lambda: receiver.received("/beta-ok"), timeout=8, what="beta delivery")
    connection.set_tenant(alpha.tenant)
    hanging = WebhookDelivery.objects.get()
    assert hanging.leased_until is not None and hanging.attempts == 0
    connection.set_schema_to_public()
    # The hanging attempt timed out and was logged as a failure to retry; the retry was
    # answered.
    row = wait_for(
        lambda: in_tenant(
            alpha, lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first()
        ),
        timeout=15,
        what="timeout recorded, then the retry",
    )
    timed_out, answered = in_tenant(alpha, lambda: list(row.attempt_log.order_by("number")))
    assert timed_out.status_code is None and "Timed out" in timed_out.error
    assert timed_out.next_retry_at is not None
    assert answered.status_code == 204 and row.attempts == 2


def test_sweep_schema_skips_fresh_and_leased_work(clean, alpha, monkeypatch):
    monkeypatch.setattr(events, "_enqueue_dispatch", lambda event_id: None)
    connection.set_tenant(alpha.tenant)
    endpoint = WebhookEndpoint.objects.create(
        url="http://127.0.0.1:18599/x", events=["order.created"], secret="whsec_" + "A" * 43
    )
    fresh = events.outbox_write(
        event_type="ping", data={}, endpoint_ids=[endpoint.pk], tenant=alpha.tenant
    )
    assert sweep_schema(alpha.tenant, now=timezone.now()) == ([], [])
    WebhookEvent.objects.filter(pk=fresh.pk).update(dispatched_at=timezone.now())
    WebhookDelivery.objects.create(
        event=fresh,
        endpoint=endpoint,
        next_attempt_at=timezone.now(),
        leased_until=timezone.now() + timedelta(seconds=30),
    )
    assert sweep_schema(alpha.tenant, now=timezone.now()) == ([], [])
    WebhookDelivery.objects.update(leased_until=None)
    WebhookEndpoint.objects.update(enabled=False)
    assert sweep_schema(alpha.tenant) == ([], [])
