"""Outbound Stripe calls (against the HTTP-level fake) and the billing endpoints."""

from __future__ import annotations

from django.db import connection

from billing.models import BillingAccount
from tenants.models import Tenant
from tests.support import bearer_client, error_of


def test_billing_disabled_without_keys(alpha, settings):
    settings.STRIPE_SECRET_KEY = ""
    client = bearer_client(alpha, "owner")
    overview = client.get("/api/v1/billing/").json()
    assert overview["enabled"] is False
    assert "STRIPE_SECRET_KEY" in overview["message"]
    response = client.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json")
    assert response.status_code == 503
    assert error_of(response)["code"] == "billing_disabled"
    assert client.post("/api/v1/billing/portal/").status_code == 503
    assert client.get("/api/v1/products/").status_code == 200  # everything else works


def test_overview_shows_plan_limits_usage_and_trial(alpha):
    body = bearer_client(alpha, "viewer").get("/api/v1/billing/").json()
    assert body["status"] == "trialing" and body["trial_ends_at"]
    assert body["plan"]["code"] == "starter"
    assert body["limits"] == {"members": 10, "products": 1000, "orders_per_month": 2000}
    assert body["usage"] == {"members": 4, "products": 0, "orders_per_month": 0}


def test_checkout_creates_one_customer_and_a_session(alpha, fake_stripe):
    client = bearer_client(alpha, "owner")
    first = client.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["url"].startswith("https://checkout.stripe.com/c/pay/cs_test")
    second = client.post("/api/v1/billing/checkout/", {"plan": "starter"}, format="json")
    assert second.status_code == 200

    customers = fake_stripe.calls("POST", "/v1/customers")
    assert len(customers) == 1
    assert customers[0]["body"]["metadata"]["schema_name"] == "t_alpha"
    assert customers[0]["body"]["email"] == "owner@alpha.test"
    sessions = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert [s["body"]["line_items"]["0"]["price"] for s in sessions] == [
        "price_test_pro",
        "price_test_starter",
    ]
    assert sessions[0]["body"]["mode"] == "subscription"
    account = BillingAccount.objects.get(tenant__schema_name="t_alpha")
    assert list(fake_stripe.customers) == [account.stripe_customer_id]
    # Every write carried an idempotency key.
    posts = [r for r in fake_stripe.requests if r["method"] == "POST"]
    assert posts and all(r["idempotency_key"] for r in posts)
    # dj-stripe's mirror (public schema) links the customer to the tenant.
    from djstripe.models import Customer

    assert Customer.objects.get(id=account.stripe_customer_id).subscriber.schema_name == "t_alpha"


def test_retried_checkout_with_the_same_idempotency_key_returns_the_same_session(
    alpha, fake_stripe
):
    client = bearer_client(alpha, "owner")
    headers = {"HTTP_IDEMPOTENCY_KEY": "click-123"}
    one = client.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json", **headers)
    two = client.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json", **headers)
    assert one.json()["url"] == two.json()["url"]


def test_checkout_rules(alpha, fake_stripe):
    assert (
        bearer_client(alpha, "admin")
        .post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json")
        .status_code
        == 403
    )
    free = bearer_client(alpha, "owner").post(
        "/api/v1/billing/checkout/", {"plan": "free"}, format="json"
    )
    assert free.status_code == 400 and "plan" in error_of(free)["fields"]


def test_suspended_owner_can_still_pay(alpha, fake_stripe):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status="suspended")
    client = bearer_client(alpha, "owner")
    assert (
        client.post("/api/v1/products/", {"name": "x", "price": "1.00"}, format="json").status_code
        == 402
    )
    assert (
        client.post("/api/v1/billing/checkout/", {"plan": "pro"}, format="json").status_code == 200
    )
    portal = client.post("/api/v1/billing/portal/")
    assert portal.status_code == 200
    assert portal.json()["url"].startswith("https://billing.stripe.com/p/session/")
    body = fake_stripe.calls("POST", "/v1/billing_portal/sessions")[0]["body"]
    assert body["return_url"] == "http://alpha.localhost/api/v1/billing/"


def test_stripe_outage_is_a_clear_503(alpha, fake_stripe):
    fake_stripe.fail("POST /v1/customers", times=10)
    response = bearer_client(alpha, "owner").post(
        "/api/v1/billing/checkout/", {"plan": "pro"}, format="json"
    )
    assert response.status_code == 503
    assert error_of(response)["code"] == "stripe_unavailable"
    assert (
        not BillingAccount.objects.filter(tenant__schema_name="t_alpha")
        .exclude(stripe_customer_id="")
        .exists()
    )


def test_djstripe_tables_live_in_public_only(alpha):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, count(*) FROM information_schema.tables"
            " WHERE table_name LIKE 'djstripe%%' GROUP BY table_schema"
        )
        schemas = dict(cursor.fetchall())
    assert set(schemas) == {"public"} and schemas["public"] > 40
