"""Delivery guarantees under faults, with real Celery workers (separate processes, prefork,
``bulk`` queue) and a real receiver on 127.0.0.1.

* A worker SIGKILLed in the middle of a delivery (the receiver holds the request until
  the kill): once its lease has run out, the sweeper hands the delivery to another
  worker, and it goes out with the same ``webhook-id``, exactly once more; nothing is lost.
* A receiver that refuses connections for several attempts, then comes up: delivered
  with the same ``webhook-id``, every failed attempt logged.

(A crash between commit and enqueue is ``test_a_lost_enqueue_is_delivered_by_the_sweeper``
in test_webhook_delivery.py.)

The worker that is killed runs on a Redis prefix of its own, to which this process's
Celery app is pointed while the delivery is queued (the session's worker never sees that
message), with a lease of a second (``WEBHOOK_LEASE_SECONDS``, through its environment as
a deployment would set it). The other worker is the session's, whose environment retries
a failed attempt after 0.2 s (``celery_support.SESSION_WORKER_ENV``). No code is replaced.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection
from standardwebhooks.webhooks import Webhook

from tenant_apps.integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenant_apps.integrations.tasks import sweep_webhook_deliveries
from tests import celery_support
from tests.celery_support import SESSION_WORKER_ENV, Worker, configure_app, purge_prefix, wait_for
from tests.tenant_apps.integrations.receiver import (
    PORTS,
    Receiver,
    endpoint_on,
    in_tenant,
    place_order,
    port_is_free,
    stock,
)

celery_prefix = celery_support.celery_prefix
committed = celery_support.committed
worker = celery_support.worker

pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]

LEASE_SECONDS = 1


@pytest.fixture
def alpha(committed_alpha):
    return committed_alpha


@pytest.fixture
def doomed(committed, worker, celery_prefix, clean_webhooks):
    """``doomed()`` starts a worker (``bulk``, lease ``LEASE_SECONDS``) on a prefix of this
    test's own and points this process's Celery app there; ``doomed.back()`` points it at
    the session's prefix again (the session's worker takes over). Killed after the test,
    and the session tenants' webhook and order tables emptied."""
    from config.celery import app

    prefix = f"{celery_prefix}faults-{uuid.uuid4().hex[:6]}:"
    started: list[Worker] = []

    class Doomed:
        def __call__(self) -> Worker:
            configure_app(app, prefix=prefix)
            started.append(
                Worker(
                    database=connection.settings_dict["NAME"],
                    prefix=prefix,
                    queues="bulk",
                    env={"WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS)},
                ).start()
            )
            return started[-1]

        def back(self) -> None:
            configure_app(app, prefix=celery_prefix)

    yield Doomed()
    for one in started:
        one.kill_and_forget()
    configure_app(app, prefix=celery_prefix)
    purge_prefix(prefix)


def order_with_endpoint(alpha, url: str) -> dict:
    """An endpoint on ``url`` subscribed to ``order.created`` (through the API), then an
    order placed through the API: its event is committed and queued."""
    endpoint = endpoint_on(alpha, url)
    place_order(alpha, *stock(alpha))
    return endpoint


def test_a_worker_killed_mid_delivery_loses_nothing(doomed, receiver, alpha):
    first = doomed()
    endpoint = order_with_endpoint(alpha, receiver.url("/block/kill"))
    # The receiver holds the request: the worker is in the middle of the delivery.
    wait_for(lambda: receiver.received("/block/kill"), timeout=20, what="the delivery to start")
    leased = in_tenant(alpha, lambda: WebhookDelivery.objects.get())
    assert leased.leased_until is not None and leased.attempts == 0
    first.kill()  # SIGKILL, main process and pool: no shutdown, no ack, no record
    receiver.release()
    assert first.process is not None and first.process.returncode == -9
    assert in_tenant(alpha, lambda: WebhookAttempt.objects.count()) == 0

    # Another worker (the session's) is up. Beat runs the sweeper every 30 s; here the
    # test plays beat every 0.1 s: nothing is handed on while the dead worker's lease
    # lasts, then the sweep queues the delivery and the other worker sends it.
    doomed.back()
    deadline = time.monotonic() + 30
    while len(receiver.received("/block/kill")) < 2:
        assert time.monotonic() < deadline, "the delivery was not handed on"
        swept = sweep_webhook_deliveries.apply().get()
        if time.time() < leased.leased_until.timestamp() - 0.2:  # (clock margin)
            assert swept["endpoints"] == 0, "handed on while the lease still held"
        time.sleep(0.1)

    got = receiver.received("/block/kill")
    event = in_tenant(alpha, lambda: WebhookEvent.objects.get())
    assert [r.headers["webhook-id"] for r in got] == [event.public_id] * 2
    assert Webhook(endpoint["secret"]).verify(got[1].body, got[1].headers)["id"] == event.public_id
    row = wait_for(
        lambda: in_tenant(
            alpha, lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first()
        ),
        timeout=10,
        what="the delivery recorded as succeeded",
    )
    assert row.attempts == 1 and row.leased_until is None
    codes = in_tenant(alpha, lambda: list(row.attempt_log.values_list("status_code", flat=True)))
    assert codes == [204]
    # A sweep after success finds nothing to send, and nothing more arrives.
    assert sweep_webhook_deliveries.apply().get()["endpoints"] == 0
    time.sleep(0.3)
    assert len(receiver.received("/block/kill")) == 2


def test_a_receiver_down_for_a_while_gets_the_event_once_it_is_up(
    committed, worker, clean_webhooks, alpha
):
    schedule = SESSION_WORKER_ENV["WEBHOOK_RETRY_SCHEDULE"].split(",")
    assert len(schedule) >= 10 and max(map(float, schedule)) <= 1  # (the session worker's)
    port = next(p for p in reversed(PORTS) if port_is_free(p))
    endpoint = order_with_endpoint(alpha, f"http://127.0.0.1:{port}/down")

    def failed_attempts() -> int:
        return in_tenant(alpha, lambda: WebhookAttempt.objects.filter(status_code=None).count())

    # Nothing listens: connection refused, retried by the worker itself.
    wait_for(lambda: failed_attempts() >= 3, timeout=30, what="three refused attempts")
    receiver = Receiver(port=port).start()
    try:
        (got,) = wait_for(lambda: receiver.received("/down"), timeout=20, what="the delivery")
        event = in_tenant(alpha, lambda: WebhookEvent.objects.get())
        assert got.headers["webhook-id"] == event.public_id
        assert Webhook(endpoint["secret"]).verify(got.body, got.headers)["id"] == event.public_id
        row = wait_for(
            lambda: in_tenant(
                alpha,
                lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first(),
            ),
            timeout=10,
            what="the delivery recorded as succeeded",
        )
        attempts = in_tenant(
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
        assert in_tenant(alpha, lambda: WebhookEndpoint.objects.get().failing_since) is None
        # Delivered once, not once per failure: nothing is left to send, nothing more comes.
        assert sweep_webhook_deliveries.apply().get()["endpoints"] == 0
        time.sleep(0.3)
        assert len(receiver.received("/down")) == 1
    finally:
        receiver.stop()
