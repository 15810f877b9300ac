"""billing/services.py: the paths the API tests do not take (a Stripe refusal, a lost
customer id, a customer without subscriptions, events that name their tenant in other
ways or not at all), against the fake Stripe over HTTP."""

from __future__ import annotations

import json

import pytest
from djstripe.models import Customer as DjstripeCustomer

from billing import services
from billing.models import BillingAccount, WebhookEvent, WebhookEventStatus
from shared_apps.core.errors import ErrorCode
from tenants.models import Tenant, TenantStatus
from tests.billing.conftest import PRO_PRICE, WEBHOOK_SECRET
from tests.factories import BillingAccountFactory
from tests.stripe_fake import event_object, sign, subscription_object
from tests.support import bearer_client, error_of


def receive_and_process(event: dict) -> WebhookEvent:
    payload = json.dumps(event).encode()
    stored, needs = services.webhook_event_receive(
        payload=payload, signature=sign(payload, WEBHOOK_SECRET)
    )
    assert needs is True
    processed = services.webhook_event_process(event_id=stored.pk)
    assert processed is not None
    return processed


def test_a_stripe_refusal_is_a_502_with_stripes_message(alpha, fake_stripe):
    fake_stripe.reject("POST /v1/checkout/sessions", times=1, message="No such price.")
    response = bearer_client(alpha, "owner").post(
        "/api/v1/billing/checkout/", {"plan": "pro"}, format="json"
    )
    assert response.status_code == 502
    error = error_of(response)
    assert (error["code"], error["message"]) == (ErrorCode.STRIPE_ERROR, "No such price.")
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") != []


def test_a_lost_customer_id_finds_the_same_customer_mirrored_once(alpha, fake_stripe):
    tenant = alpha.tenant
    first = services.customer_ensure(tenant=tenant)
    BillingAccount.objects.filter(tenant=tenant).update(stripe_customer_id="")

    again = services.customer_ensure(tenant=tenant)

    assert again == first  # the same idempotency key: Stripe returns the same customer
    creates = fake_stripe.calls("POST", "/v1/customers")
    assert len(creates) == 2 and creates[0]["idempotency_key"] == creates[1]["idempotency_key"]
    assert BillingAccount.objects.get(tenant=tenant).stripe_customer_id == first
    mirrored = DjstripeCustomer.objects.filter(subscriber=tenant)
    assert list(mirrored.values_list("id", flat=True)) == [first]


def test_sync_without_a_stripe_customer_asks_stripe_nothing(alpha, fake_stripe):
    tenant = services.subscription_sync(tenant=alpha.tenant)
    assert tenant.status == TenantStatus.TRIALING
    assert fake_stripe.calls("GET", "/v1/subscriptions") == []
    assert BillingAccount.objects.get(tenant=tenant).synced_at is None


def test_sync_of_a_customer_without_subscriptions_only_records_the_sync(alpha, fake_stripe):
    services.customer_ensure(tenant=alpha.tenant)
    tenant = services.subscription_sync(tenant=alpha.tenant)
    assert (tenant.status, tenant.plan.code) == (TenantStatus.TRIALING, "starter")
    assert len(fake_stripe.calls("GET", "/v1/subscriptions")) == 1
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.synced_at is not None
    assert (account.stripe_subscription_id, account.subscription_status) == ("", "")


@pytest.mark.parametrize("header", ["v1=deadbeef", "t=soon,v1=deadbeef"])
def test_a_signature_without_a_numeric_timestamp_is_refused(fake_stripe, header):
    payload = json.dumps(event_object({}, type_="ping")).encode()
    with pytest.raises(services.InvalidSignature):
        services.webhook_event_receive(payload=payload, signature=header)
    assert not WebhookEvent.objects.exists()


def test_an_event_with_an_expanded_customer_is_applied(alpha, fake_stripe):
    customer = services.customer_ensure(tenant=alpha.tenant)
    sub = fake_stripe.set_subscription(
        subscription_object(customer=customer, status="active", price_id=PRO_PRICE)
    )
    expanded = {**sub, "customer": {"id": customer, "object": "customer"}}
    stored = receive_and_process(event_object(expanded, type_="customer.subscription.updated"))
    assert stored.status == WebhookEventStatus.PROCESSED
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (tenant.status, tenant.plan.code) == (TenantStatus.ACTIVE, "pro")


def test_an_event_naming_the_tenant_but_no_customer_links_nothing(alpha, fake_stripe):
    session = {
        "id": "cs_test_nocustomer",
        "object": "checkout.session",
        "customer": None,
        "client_reference_id": str(alpha.tenant.pk),
    }
    stored = receive_and_process(event_object(session, type_="checkout.session.completed"))
    assert stored.status == WebhookEventStatus.PROCESSED
    assert BillingAccount.objects.get(tenant=alpha.tenant).stripe_customer_id == ""
    assert fake_stripe.calls("GET", "/v1/subscriptions") == []  # no customer to ask about
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == TenantStatus.TRIALING


@pytest.mark.parametrize(
    "obj",
    [
        {"id": "in_test_stranger", "object": "invoice", "customer": "cus_test_stranger"},
        {"id": "in_test_noone", "object": "invoice", "metadata": {"tenant_id": "alpha"}},
    ],
    ids=["unknown customer", "no tenant id"],
)
def test_an_event_naming_no_known_tenant_is_ignored(alpha, fake_stripe, obj):
    BillingAccountFactory(tenant=alpha.tenant)  # a customer, but not this one
    stored = receive_and_process(event_object(obj, type_="invoice.paid"))
    assert (stored.status, stored.attempts, stored.last_error) == (
        WebhookEventStatus.IGNORED,
        1,
        "",
    )
    assert fake_stripe.calls("GET", "/v1/subscriptions") == []
    assert not BillingAccount.objects.filter(stripe_customer_id="cus_test_stranger").exists()
