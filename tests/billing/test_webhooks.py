"""Inbound webhooks signed exactly as Stripe signs them; state from the newest object."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time

import pytest
from django.db import connections

from billing import services
from billing.models import BillingAccount, WebhookEvent
from shared_apps.core.errors import ErrorCode
from tenants.models import Tenant
from tests.billing.conftest import PRO_PRICE, STARTER_PRICE, WEBHOOK_SECRET
from tests.stripe_fake import event_object, sign, subscription_object
from tests.support import error_of, host_client

URL = "/billing/stripe/webhook/"


def post(event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, header=True):
    payload = json.dumps(event).encode()
    extra = {"HTTP_STRIPE_SIGNATURE": sign(payload, secret, timestamp=timestamp)} if header else {}
    return host_client("localhost").post(
        URL, data=payload, content_type="application/json", **extra
    )


def deliver(event: dict) -> WebhookEvent:
    """POST the event as Stripe would, then run the task the endpoint queued."""
    response = post(event)
    assert response.status_code == 200, response.content
    stored = WebhookEvent.objects.get(stripe_id=event["id"])
    if response.json()["duplicate"] is False:
        with contextlib.suppress(Exception):  # recorded on the row; the test looks there
            services.webhook_event_process(event_id=stored.pk)
    stored.refresh_from_db()
    return stored


@pytest.fixture
def customer(alpha, fake_stripe):
    """alpha is a Stripe customer (as after its first checkout)."""
    customer_id = services.customer_ensure(tenant=alpha.tenant)
    return customer_id


def test_valid_event_is_stored_and_applied(alpha, fake_stripe, customer):
    sub = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id=PRO_PRICE)
    )
    stored = deliver(event_object(sub, type_="customer.subscription.created"))
    assert stored.status == "processed" and stored.attempts == 1
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (tenant.status, tenant.plan.code) == ("active", "pro")
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.stripe_subscription_id == sub["id"] and account.subscription_status == "active"


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("bad signature", {"secret": "whsec_wrong"}),
        ("missing header", {"header": False}),
        ("stale timestamp", {"age": 301}),
        ("future timestamp", {"age": -301}),
    ],
)
def test_forged_or_stale_events_are_rejected_and_not_stored(fake_stripe, case, kwargs):
    event = event_object(
        {"id": "sub_x", "object": "subscription"}, type_="customer.subscription.updated"
    )
    if "age" in kwargs:  # computed now, not at collection time
        kwargs = {"timestamp": int(time.time()) - kwargs["age"]}
    response = post(event, **kwargs)
    assert response.status_code == 400, case
    assert error_of(response)["code"] == "invalid_signature"
    assert not WebhookEvent.objects.filter(stripe_id=event["id"]).exists()


def test_tolerance_never_exceeds_300_seconds(fake_stripe, settings):
    from django.conf import settings as conf

    assert conf.STRIPE_WEBHOOK_TOLERANCE <= 300
    event = event_object({"id": "sub_y", "object": "subscription"}, type_="ping")
    assert post(event, timestamp=int(time.time()) - 290).status_code == 200


def test_debug_bypass_headers_are_not_a_thing(fake_stripe):
    event = event_object(
        {"id": "sub_z", "object": "subscription"}, type_="customer.subscription.updated"
    )
    response = host_client("localhost").post(
        URL,
        data=json.dumps(event),
        content_type="application/json",
        HTTP_X_DEBUG_SKIP_SIGNATURE="1",
        HTTP_STRIPE_SIGNATURE="t=1,v1=deadbeef",
    )
    assert response.status_code == 400


def test_without_a_secret_webhooks_are_refused(fake_stripe, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post(event_object({}, type_="ping"))
    assert response.status_code == 503 and error_of(response)["code"] == "billing_disabled"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json", ErrorCode.INVALID_SIGNATURE),
        (b"[1, 2]", ErrorCode.VALIDATION_ERROR),
        (b'{"type": "invoice.paid"}', ErrorCode.VALIDATION_ERROR),  # no id
        (b'{"id": 7, "type": "invoice.paid"}', ErrorCode.VALIDATION_ERROR),
    ],
    ids=["not json", "a list", "no id", "id not a string"],
)
def test_not_json_or_not_an_event_is_400(fake_stripe, payload, code):
    response = host_client("localhost").post(
        URL,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, WEBHOOK_SECRET),
    )
    assert response.status_code == 400 and error_of(response)["code"] == code
    assert not WebhookEvent.objects.exists()


def test_webhook_only_on_the_public_host(alpha, fake_stripe):
    event = event_object({}, type_="ping")
    payload = json.dumps(event).encode()
    response = host_client(alpha.host).post(
        URL,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, WEBHOOK_SECRET),
    )
    assert response.status_code == 404


def test_unknown_type_is_acknowledged_and_ignored(fake_stripe):
    stored = deliver(
        event_object({"id": "x", "object": "thing"}, type_="radar.early_fraud_warning.created")
    )
    assert stored.status == "ignored"


def test_the_same_event_twice_is_applied_once(alpha, fake_stripe, customer):
    sub = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id=PRO_PRICE)
    )
    event = event_object(sub, type_="customer.subscription.updated")
    deliver(event)
    fetches = len(fake_stripe.calls("GET", "/v1/subscriptions"))
    second = post(event)
    assert second.status_code == 200 and second.json() == {"received": True, "duplicate": True}
    assert WebhookEvent.objects.filter(stripe_id=event["id"]).count() == 1
    assert len(fake_stripe.calls("GET", "/v1/subscriptions")) == fetches


def test_a_failing_handler_is_recorded_then_heals_on_redelivery(alpha, fake_stripe, customer):
    sub = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id=PRO_PRICE)
    )
    event = event_object(sub, type_="customer.subscription.updated")
    fake_stripe.fail("GET /v1/subscriptions", times=10)  # Stripe down while processing
    failed = deliver(event)
    assert (
        failed.status == "failed"
        and failed.attempts == 1
        and "StripeUnavailable" in failed.last_error
    )
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "trialing"
    fake_stripe.failures.clear()
    healed = deliver(event)  # Stripe retries the same event
    assert healed.status == "processed" and healed.attempts == 2
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "active"


SEQUENCE = ["trialing", "active", "past_due", "active", "past_due", "unpaid", "canceled"]


@pytest.mark.parametrize("seed", range(6))
def test_shuffled_events_converge_to_the_newest_state(alpha, fake_stripe, customer, seed):
    """Events of one subscription's life delivered in a random order (and some twice):
    the tenant ends in the state of the subscription as Stripe has it now."""
    sub = subscription_object(customer=customer, status="trialing", price_id=STARTER_PRICE)
    events = []
    for offset, status in enumerate(SEQUENCE):
        snapshot = {**sub, "status": status}
        events.append(
            event_object(
                snapshot, type_="customer.subscription.updated", created=1_700_000_000 + offset
            )
        )
    fake_stripe.set_subscription({**sub, "status": SEQUENCE[-1]})
    rng = random.Random(seed)
    shuffled = events + rng.sample(events, k=2)
    rng.shuffle(shuffled)
    for event in shuffled:
        deliver(event)
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "canceled"
    assert WebhookEvent.objects.filter(status="processed").count() == len(SEQUENCE)


def test_an_old_event_arriving_late_does_not_roll_state_back(alpha, fake_stripe, customer):
    sub = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id=PRO_PRICE)
    )
    deliver(event_object(sub, type_="customer.subscription.updated"))
    late = event_object(
        {**sub, "status": "past_due"}, type_="invoice.payment_failed", created=1_600_000_000
    )
    late["data"]["object"] = {
        "id": "in_1",
        "object": "invoice",
        "customer": customer,
        "subscription": sub["id"],
    }
    deliver(late)
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "active"


def test_checkout_completed_links_a_customer_by_client_reference(alpha, fake_stripe):
    customer_id = "cus_test_from_checkout"
    fake_stripe.customers[customer_id] = {"id": customer_id}
    fake_stripe.set_subscription(
        subscription_object(customer=customer_id, status="active", price_id=PRO_PRICE)
    )
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "customer": customer_id,
        "client_reference_id": str(alpha.tenant.pk),
        "mode": "subscription",
    }
    deliver(event_object(session, type_="checkout.session.completed"))
    assert BillingAccount.objects.get(tenant=alpha.tenant).stripe_customer_id == customer_id
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "active"


@pytest.mark.django_db(transaction=False)
def test_the_same_event_concurrently_is_applied_once(alpha, stripe_settings):
    """Two deliveries racing on their own connections: one row, one application.

    Everything the threads touch is committed by other connections (the test's own
    transaction writes nothing, so it holds no lock they could wait on)."""
    from billing.models import WebhookEventStatus

    tenant_id = alpha.tenant.pk
    customer_id = "cus_test_concurrent"
    sub = stripe_settings.set_subscription(
        subscription_object(customer=customer_id, status="active", price_id="price_unmapped")
    )
    setup = connections.create_connection("default")
    with setup.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_billingaccount (tenant_id, stripe_customer_id,"
            " stripe_subscription_id, subscription_status) VALUES (%s, %s, '', '')",
            [tenant_id, customer_id],
        )
    setup.close()
    event = event_object(sub, type_="customer.subscription.updated")
    payload = json.dumps(event).encode()
    signature = sign(payload, WEBHOOK_SECRET)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def receive_and_process() -> None:
        from django.db import connection

        try:
            barrier.wait()
            stored, needs = services.webhook_event_receive(payload=payload, signature=signature)
            if needs:
                processed = services.webhook_event_process(event_id=stored.pk)
                results.append(processed.status if processed else "locked")
            else:
                results.append("duplicate")
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=receive_and_process) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        check = connections.create_connection("default")
        with check.cursor() as cursor:
            cursor.execute(
                "SELECT status, attempts FROM billing_webhookevent WHERE stripe_id = %s",
                [event["id"]],
            )
            rows = cursor.fetchall()
            cursor.execute("SELECT status FROM tenants_tenant WHERE id = %s", [tenant_id])
            status = cursor.fetchone()[0]
        check.close()
        assert rows == [(WebhookEventStatus.PROCESSED, 1)]
        assert status == "active"
        # One thread processed it; the other found it a duplicate, locked, or (when it
        # came second) already processed, which it returns untouched (attempts stays 1).
        assert len(results) == 2 and "processed" in results
        assert set(results) <= {"processed", "locked", "duplicate"}
        assert len(stripe_settings.calls("GET", "/v1/subscriptions")) == 1
    finally:
        cleanup = connections.create_connection("default")
        with cleanup.cursor() as cursor:
            cursor.execute("DELETE FROM billing_webhookevent WHERE stripe_id = %s", [event["id"]])
            cursor.execute("DELETE FROM billing_billingaccount WHERE tenant_id = %s", [tenant_id])
            cursor.execute("DELETE FROM tenants_tenantevent WHERE tenant_id = %s", [tenant_id])
            cursor.execute(
                "UPDATE tenants_tenant SET status = 'trialing' WHERE id = %s", [tenant_id]
            )
        cleanup.close()
