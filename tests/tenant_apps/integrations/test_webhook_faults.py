"""Delivery guarantees under faults, with real Celery workers (separate processes, prefork,
``bulk`` queue) and a real receiver on 127.0.0.1.

* A worker SIGKILLed in the middle of a delivery (the receiver holds the request until
  the kill): after a new worker starts, the delivery goes out, with the same
  ``webhook-id``, exactly once more; nothing is lost.
* A receiver that refuses connections for several attempts, then comes up: delivered
  with the same ``webhook-id``, every failed attempt logged.

(A crash between commit and enqueue is ``test_a_lost_enqueue_is_delivered_by_the_sweeper``
in test_webhook_delivery.py.)

These tests start their own workers on a Redis prefix of their own (the session's
shared worker never sees their messages), with the settings that make the faults quick
given through the environment, as a deployment would: ``WEBHOOK_RETRY_SCHEDULE=1,...``
and ``WEBHOOK_LEASE_SECONDS``. No code is replaced.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from standardwebhooks.webhooks import Webhook

from tenant_apps.catalog.models import Product, ProductStatus
from tenant_apps.integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenant_apps.integrations.tasks import sweep_webhook_deliveries
from tenant_apps.orders.models import Customer
from tests import celery_support
from tests.celery_support import Worker, configure_app, purge_prefix, wait_for
from tests.support import bearer_client, session_world
from tests.tenant_apps.integrations.receiver import PORTS, Receiver, port_is_free

celery_prefix = celery_support.celery_prefix
committed = celery_support.committed

pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]

LEASE_SECONDS = 3
TOUCHED = [
    "integrations_webhookattempt",
    "integrations_webhookdelivery",
    "integrations_webhookevent",
    "integrations_webhookendpoint",
    "orders_orderitem",
    "orders_order",
    "orders_customer",
    "catalog_product",
    "audit_auditentry",
]


@pytest.fixture
def alpha(committed_db):
    return session_world("alpha")


@pytest.fixture
def workers(committed, celery_prefix):
    """``workers(**env)`` starts a worker (``bulk``) with ``env`` on a prefix of this test's
    own, to which this process's Celery app is pointed meanwhile. All are killed after the
    test, and alpha's webhook and order tables emptied."""
    from config.celery import app

    prefix = f"{celery_prefix}faults-{uuid.uuid4().hex[:6]}:"
    configure_app(app, prefix=prefix)
    started: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker(
            database=connection.settings_dict["NAME"], prefix=prefix, queues="bulk", env=env
        ).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill_and_forget()
    configure_app(app, prefix=celery_prefix)
    purge_prefix(prefix)
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        for table in TOUCHED:
            cursor.execute(f"DELETE FROM t_alpha.{table}")


def order_with_endpoint(alpha, url: str) -> dict:
    """An endpoint on ``url`` subscribed to ``order.created`` (through the API), then an
    order placed through the API: its event is committed and queued."""
    owner = bearer_client(alpha, "owner")
    endpoint = owner.post(
        "/api/v1/webhooks/endpoints/", {"url": url, "events": ["order.created"]}, format="json"
    )
    assert endpoint.status_code == 201, endpoint.content
    connection.set_tenant(alpha.tenant)
    try:
        product = Product.objects.create(
            name="Anvil",
            slug=f"anvil-{time.monotonic_ns()}",
            price=Decimal("49.00"),
            stock=10,
            status=ProductStatus.ACTIVE,
        )
        customer = Customer.objects.create(name="Wile", email=f"w{time.monotonic_ns()}@acme.test")
    finally:
        connection.set_schema_to_public()
    order = bearer_client(alpha, "member").post(
        "/api/v1/orders/",
        {"customer": customer.pk, "items": [{"product": product.pk, "quantity": 1}]},
        format="json",
    )
    assert order.status_code == 201, order.content
    return endpoint.json()


def in_alpha(alpha, read):
    connection.set_tenant(alpha.tenant)
    try:
        return read()
    finally:
        connection.set_schema_to_public()


def test_a_worker_killed_mid_delivery_loses_nothing(workers, receiver, alpha):
    first = workers(WEBHOOK_LEASE_SECONDS=str(LEASE_SECONDS))
    endpoint = order_with_endpoint(alpha, receiver.url("/block/kill"))
    # The receiver holds the request: the worker is in the middle of the delivery.
    wait_for(lambda: receiver.received("/block/kill"), timeout=20, what="the delivery to start")
    leased = in_alpha(alpha, lambda: WebhookDelivery.objects.get())
    assert leased.leased_until is not None and leased.attempts == 0
    first.kill()  # SIGKILL, main process and pool: no shutdown, no ack, no record
    receiver.release()
    assert first.process is not None and first.process.returncode == -9
    assert in_alpha(alpha, lambda: WebhookAttempt.objects.count()) == 0

    workers(WEBHOOK_LEASE_SECONDS=str(LEASE_SECONDS))  # a new worker comes up
    time.sleep(LEASE_SECONDS)  # the dead worker's lease runs out
    # Beat runs the sweeper every 30 s; here the test plays beat every second.
    deadline = time.monotonic() + 30
    while len(receiver.received("/block/kill")) < 2:
        assert time.monotonic() < deadline, "the delivery was not handed on"
        sweep_webhook_deliveries.apply().get()
        time.sleep(1)

    got = receiver.received("/block/kill")
    event = in_alpha(alpha, lambda: WebhookEvent.objects.get())
    assert [r.headers["webhook-id"] for r in got] == [event.public_id] * 2
    assert Webhook(endpoint["secret"]).verify(got[1].body, got[1].headers)["id"] == event.public_id
    row = wait_for(
        lambda: in_alpha(
            alpha, lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first()
        ),
        timeout=10,
        what="the delivery recorded as succeeded",
    )
    assert row.attempts == 1 and row.leased_until is None
    assert in_alpha(alpha, lambda: list(row.attempt_log.values_list("status_code", flat=True))) == [
        204
    ]
    time.sleep(1.5)  # a sweep after success sends nothing more
    sweep_webhook_deliveries.apply().get()
    time.sleep(1)
    assert len(receiver.received("/block/kill")) == 2


def test_a_receiver_down_for_a_while_gets_the_event_once_it_is_up(workers, alpha):
    workers(WEBHOOK_RETRY_SCHEDULE="1,1,1,1,1,1,1,1,1,1", WEBHOOK_RETRY_JITTER="0")
    port = next(p for p in reversed(PORTS) if port_is_free(p))
    endpoint = order_with_endpoint(alpha, f"http://127.0.0.1:{port}/down")

    def failed_attempts() -> int:
        return in_alpha(alpha, lambda: WebhookAttempt.objects.filter(status_code=None).count())

    # Nothing listens: connection refused, retried every second by the worker itself.
    wait_for(lambda: failed_attempts() >= 3, timeout=30, what="three refused attempts")
    receiver = Receiver(port=port).start()
    try:
        (got,) = wait_for(lambda: receiver.received("/down"), timeout=20, what="the delivery")
        event = in_alpha(alpha, lambda: WebhookEvent.objects.get())
        assert got.headers["webhook-id"] == event.public_id
        assert Webhook(endpoint["secret"]).verify(got.body, got.headers)["id"] == event.public_id
        row = wait_for(
            lambda: in_alpha(
                alpha,
                lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first(),
            ),
            timeout=10,
            what="the delivery recorded as succeeded",
        )
        attempts = in_alpha(
            alpha,
            lambda: list(
                row.attempt_log.values_list("number", "status_code", "error", "next_retry_at")
            ),
        )
        *failures, success = attempts
        assert len(failures) >= 3 and row.attempts == len(attempts)
        assert [number for number, *_ in attempts] == list(range(1, len(attempts) + 1))
        for _, status, error, next_retry in failures:
            assert status is None and error.startswith("Connection failed"), error
            assert next_retry is not None
        assert success[1] == 204 and success[3] is None
        assert in_alpha(alpha, lambda: WebhookEndpoint.objects.get().failing_since) is None
        time.sleep(1.5)
        assert len(receiver.received("/down")) == 1  # delivered once, not once per failure
    finally:
        receiver.stop()
