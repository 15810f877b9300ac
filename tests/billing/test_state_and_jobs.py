"""Tenant state machine, writes per state (API and tasks), deadlines, retention,
usage metering and plan limits at, below and above."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from billing import services
from billing.limits import Limit, limit_check
from billing.models import BillingAccount, UsageReport
from shared_apps.core.errors import PlanLimitExceeded
from tenant_apps.exports.models import Export
from tenants import services as tenant_services
from tenants.models import Tenant, TenantStatus
from tenants.provisioning import tenant_provision
from tests.billing.conftest import PRO_PRICE
from tests.factories import PASSWORD, ExportFactory, OrderFactory, ProductFactory
from tests.stripe_fake import subscription_object
from tests.support import bearer_client, error_of

TRANSITIONS = [
    ("trialing", "active", "active"),
    ("active", "past_due", "past_due"),
    ("past_due", "active", "active"),
    ("past_due", "unpaid", "suspended"),
    ("suspended", "active", "active"),
    ("active", "paused", "suspended"),
    ("suspended", "canceled", "canceled"),
    ("active", "canceled", "canceled"),
    ("trialing", "incomplete_expired", "canceled"),
    ("trialing", "incomplete", "trialing"),
    ("active", "trialing", "trialing"),
]


@pytest.mark.parametrize(("before", "stripe_status", "after"), TRANSITIONS)
def test_subscription_status_drives_the_tenant(alpha, fake_stripe, before, stripe_status, after):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=before)
    subscription = subscription_object(customer="cus_x", status=stripe_status, price_id=PRO_PRICE)
    tenant = services.subscription_apply(
        tenant=alpha.tenant, subscription=subscription, reason="test"
    )
    assert tenant.status == after
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.subscription_status == stripe_status
    assert (account.past_due_since is not None) == (stripe_status == "past_due")


WRITES_BY_STATUS = [
    ("trialing", 201),
    ("active", 201),
    ("past_due", 201),
    ("suspended", 402),
    ("canceled", 402),
]


@pytest.mark.parametrize(("status", "expected"), WRITES_BY_STATUS)
def test_api_writes_per_state(alpha, status, expected):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=status)
    client = bearer_client(alpha, "owner")
    assert client.get("/api/v1/products/").status_code == 200
    assert client.get("/api/v1/billing/").status_code == 200
    response = client.post("/api/v1/categories/", {"name": f"c-{status}"}, format="json")
    assert response.status_code == expected
    if expected == 402:
        assert error_of(response)["code"] == "tenant_suspended"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", "done"), ("past_due", "done"), ("suspended", "pending"), ("canceled", "pending")],
)
def test_task_writes_per_state(alpha, in_alpha, settings, tmp_path, status, expected):
    from tenant_apps.exports.tasks import run_export
    from tenants.background.headers import for_tenant

    settings.MEDIA_ROOT = tmp_path
    export = ExportFactory()
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=status)
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    connection.set_schema_to_public()
    run_export.apply(args=[export.pk], headers=for_tenant(tenant))
    connection.set_tenant(tenant)
    assert Export.objects.get(pk=export.pk).status == expected


def test_trial_expiry(alpha):
    now = timezone.now()
    Tenant.objects.filter(pk=alpha.tenant.pk).update(trial_ends_at=now - dt.timedelta(minutes=1))
    assert services.billing_deadlines_enforce(tenant=alpha.tenant, now=now) is True
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "suspended"


def test_trial_not_over_or_paid_is_left_alone(alpha):
    now = timezone.now()
    assert services.billing_deadlines_enforce(tenant=alpha.tenant, now=now) is False
    Tenant.objects.filter(pk=alpha.tenant.pk).update(trial_ends_at=now - dt.timedelta(days=1))
    BillingAccount.objects.create(tenant=alpha.tenant, subscription_status="active")
    assert services.billing_deadlines_enforce(tenant=alpha.tenant, now=now) is False


@pytest.mark.parametrize(("days_past_due", "suspended"), [(6, False), (8, True)])
def test_past_due_grace_period(alpha, settings, days_past_due, suspended):
    settings.BILLING_PAST_DUE_GRACE_DAYS = 7
    now = timezone.now()
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status="past_due")
    BillingAccount.objects.create(
        tenant=alpha.tenant,
        subscription_status="past_due",
        past_due_since=now - dt.timedelta(days=days_past_due),
    )
    assert services.billing_deadlines_enforce(tenant=alpha.tenant, now=now) is suspended
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == (
        "suspended" if suspended else "past_due"
    )


def test_canceled_tenant_is_deleted_after_retention_with_a_final_export(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.BILLING_CANCELED_RETENTION_DAYS = 30
    tenant = tenant_provision(
        name="Leaving", subdomain="leaving", owner_email="bye@leaving.test", owner_password=PASSWORD
    ).tenant
    connection.set_tenant(tenant)
    OrderFactory(total=Decimal("3.00"))
    connection.set_schema_to_public()
    old = timezone.now() - dt.timedelta(days=31)
    Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.CANCELED, status_changed_at=old)
    recent = tenant_provision(
        name="Recent", subdomain="recent", owner_email="r@recent.test", owner_password=PASSWORD
    ).tenant
    Tenant.objects.filter(pk=recent.pk).update(status=TenantStatus.CANCELED)

    assert tenant_services.tenants_canceled_purge() == ["t_leaving"]
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 't_leaving'")
        assert cursor.fetchone() is None
    finals = list((tmp_path / "tenants" / "t_leaving" / "final").iterdir())
    assert len(finals) == 1 and "3.00" in finals[0].read_text()
    assert Tenant.objects.filter(pk=recent.pk).exists()


def test_usage_is_reported_once_per_tenant_and_day(alpha, in_alpha, fake_stripe):
    day = timezone.now().date()
    OrderFactory.create_batch(3)
    connection.set_schema_to_public()
    services.customer_ensure(tenant=alpha.tenant)
    connection.set_tenant(in_alpha)
    first = services.usage_report(tenant=in_alpha, day=day)
    again = services.usage_report(tenant=in_alpha, day=day)
    assert first.quantity == 3 and again.pk == first.pk
    assert len(fake_stripe.meter_events) == 1
    event = fake_stripe.meter_events[0]
    assert event["payload"]["value"] == "3" and event["event_name"] == "tessera_orders"
    call = fake_stripe.calls("POST", "/v1/billing/meter_events")[0]
    assert call["idempotency_key"] == event["identifier"] == first.idempotency_key


def test_usage_retry_after_a_stripe_failure_bills_once(alpha, in_alpha, fake_stripe):
    day = timezone.now().date()
    connection.set_schema_to_public()
    services.customer_ensure(tenant=alpha.tenant)
    connection.set_tenant(in_alpha)
    fake_stripe.fail("POST /v1/billing/meter_events", times=10)
    with pytest.raises(services.StripeUnavailable):
        services.usage_report(tenant=in_alpha, day=day)
    assert not UsageReport.objects.exists()  # nothing recorded: the next run retries
    fake_stripe.failures.clear()
    services.usage_report(tenant=in_alpha, day=day)
    services.usage_report(tenant=in_alpha, day=day)
    assert len(fake_stripe.meter_events) == 1


def test_usage_without_a_stripe_customer_is_skipped(alpha, in_alpha, fake_stripe):
    assert services.usage_report(tenant=in_alpha, day=timezone.now().date()) is None
    assert fake_stripe.meter_events == []


@pytest.mark.parametrize(
    ("limit", "cap", "existing", "allowed"),
    [
        (Limit.PRODUCTS, 3, 1, True),  # below
        (Limit.PRODUCTS, 3, 2, True),  # reaching the limit
        (Limit.PRODUCTS, 3, 3, False),  # at the limit: no more
        (Limit.PRODUCTS, 3, 5, False),  # above (after a downgrade): data kept, no more
        (Limit.ORDERS_PER_MONTH, 2, 1, True),
        (Limit.ORDERS_PER_MONTH, 2, 2, False),
        (Limit.MEMBERS, 5, 4, True),
        (Limit.MEMBERS, 4, 4, False),
    ],
)
def test_limits_at_below_and_above(alpha, in_alpha, limit, cap, existing, allowed):
    from billing.limits import _PLAN_FIELD

    plan = in_alpha.plan
    setattr(plan, _PLAN_FIELD[limit], cap)
    plan.save()
    if limit == Limit.PRODUCTS:
        ProductFactory.create_batch(existing)
    elif limit == Limit.ORDERS_PER_MONTH:
        OrderFactory.create_batch(existing)
    if allowed:
        limit_check(tenant=in_alpha, limit=limit)
    else:
        with pytest.raises(PlanLimitExceeded):
            limit_check(tenant=in_alpha, limit=limit)
    if limit == Limit.PRODUCTS:
        from tenant_apps.catalog.models import Product

        assert Product.objects.count() == existing  # a downgrade never deletes data


def test_plan_limit_error_over_the_api(alpha, in_alpha):
    plan = in_alpha.plan
    plan.max_products = 0
    plan.save()
    connection.set_schema_to_public()
    response = bearer_client(alpha, "owner").post(
        "/api/v1/products/", {"name": "x", "price": "1.00"}, format="json"
    )
    assert response.status_code == 402
    assert error_of(response)["code"] == "plan_limit_exceeded"
