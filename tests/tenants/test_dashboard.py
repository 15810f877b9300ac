"""The operator's dashboard: the admin home page's figures match the database."""

from __future__ import annotations

import datetime as dt

import pytest
from celery.signals import before_task_publish
from django.test import Client
from django.utils import timezone

from billing.models import BillingAccount, Plan, WebhookEvent, WebhookEventStatus
from tenants.background.models import FanoutItem, FanoutItemStatus, FanoutRun
from tenants.dashboard import platform_overview
from tenants.models import (
    SpareSchema,
    Tenant,
    TenantEvent,
    TenantStatus,
)
from tests import background_tasks, celery_support
from tests.background_factories import FanoutItemFactory
from tests.factories import UserFactory

celery_prefix = celery_support.celery_prefix
assert background_tasks  # registers the tasks the fan-out factories name


def admin_client() -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(UserFactory(superuser=True))
    return client


@pytest.fixture
def states(alpha, beta):
    """alpha: active on pro with a billed subscription; beta: past due on starter."""
    pro = Plan.objects.get(code="pro")
    starter = Plan.objects.get(code="starter")
    a, b = alpha.tenant, beta.tenant
    Tenant.objects.filter(pk=a.pk).update(status=TenantStatus.ACTIVE, plan=pro)
    Tenant.objects.filter(pk=b.pk).update(status=TenantStatus.PAST_DUE, plan=starter)
    BillingAccount.objects.update_or_create(tenant=a, defaults={"subscription_status": "active"})
    BillingAccount.objects.update_or_create(tenant=b, defaults={"subscription_status": "past_due"})
    return pro, starter


def test_figures_match_the_database(states):
    pro, starter = states
    WebhookEvent.objects.create(
        stripe_id="evt_dash_1", type="invoice.paid", payload={}, status=WebhookEventStatus.FAILED
    )
    run = FanoutRun.objects.create(job="meter", period="2026-12-01", task_name="billing.tasks.x")
    FanoutItem.objects.create(run=run, schema_name="t_beta", status=FanoutItemStatus.FAILED)

    overview = platform_overview()

    assert overview.tenants_total == Tenant.objects.count()
    assert overview.by_status[TenantStatus.ACTIVE] == 1
    assert overview.by_status[TenantStatus.PAST_DUE] == 1
    assert dict(overview.by_plan) == {pro.name: 1, starter.name: 1}
    assert overview.mrr_cents == pro.monthly_price_cents + starter.monthly_price_cents
    assert overview.paying_tenants == 2
    assert [t.subdomain for t in overview.attention] == ["beta"]
    assert overview.failed_webhook_count == 1
    assert [r.pk for r in overview.fanout_runs_with_failures] == [run.pk]
    assert overview.fanout_failed_items == 1
    assert overview.spare_pool == SpareSchema.objects.count()
    this_week = overview.weeks[-1]
    assert this_week.signups == Tenant.objects.filter(created__date__gte=this_week.week).count()


def test_trials_and_canceled_subscriptions_add_no_mrr(alpha):
    BillingAccount.objects.update_or_create(
        tenant=alpha.tenant, defaults={"subscription_status": "trialing"}
    )
    assert platform_overview().mrr_cents == 0


def test_churn_counts_cancellations_per_week(alpha):
    tenant = alpha.tenant
    event = TenantEvent.objects.create(
        tenant=tenant, action="tenant.status_changed", detail={"from": "active", "to": "canceled"}
    )
    TenantEvent.objects.filter(pk=event.pk).update(created=timezone.now() - dt.timedelta(weeks=1))
    weeks = platform_overview().weeks
    assert weeks[-2].churned == 1
    assert sum(w.churned for w in weeks) == 1
    assert weeks[-2].churned_height == 100 or weeks[-2].churned_height > 0


def test_the_admin_home_is_the_dashboard(states):
    response = admin_client().get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Operator dashboard" in html
    assert 'id="ops-mrr"' in html and response.context["overview"].mrr in html
    assert "beta" in html  # past due: listed to act on
    assert "<svg" in html
    # dj-stripe's mirror is grouped last, under its own heading.
    app_list = response.context["app_list"]
    assert app_list[-1]["app_label"] == "djstripe"
    assert app_list[-1]["name"].startswith("Stripe mirror")


def test_retry_buttons_requeue(states, celery_prefix):
    published = []

    def record(sender=None, headers=None, body=None, **kwargs):
        published.append((sender, list(body[0]) if body else None))

    before_task_publish.connect(record)
    try:
        event = WebhookEvent.objects.create(
            stripe_id="evt_dash_2", type="x", payload={}, status=WebhookEventStatus.FAILED
        )
        client = admin_client()
        url = f"/admin/dashboard/webhook-events/{event.pk}/retry/"
        assert client.get(url).status_code == 405
        response = client.post(url, follow=True)
        assert response.status_code == 200 and "evt_dash_2 queued again" in response.text
        assert ("billing.tasks.process_webhook_event", [event.pk]) in published
        processed = WebhookEvent.objects.create(
            stripe_id="evt_dash_3", type="x", payload={}, status=WebhookEventStatus.PROCESSED
        )
        assert (
            client.post(f"/admin/dashboard/webhook-events/{processed.pk}/retry/").status_code == 404
        )

        failed = FanoutItemFactory(failed=True, schema_name="t_beta")
        response = client.post(f"/admin/dashboard/fanout-runs/{failed.run.pk}/retry/", follow=True)
        assert "1 failed tenant(s)" in response.text
        failed.refresh_from_db()
        assert (failed.status, failed.attempts) == (FanoutItemStatus.QUEUED, 0)
    finally:
        before_task_publish.disconnect(record)


def test_dashboard_is_for_superusers_only(alpha):
    client = Client(HTTP_HOST="localhost")
    client.force_login(UserFactory())
    assert client.get("/admin/").status_code == 302  # to the admin login
    assert client.post("/admin/dashboard/fanout-runs/1/retry/").status_code == 302
    # never on a tenant host
    tenant_client = Client(HTTP_HOST=alpha.host)
    tenant_client.force_login(UserFactory(superuser=True))
    assert tenant_client.get("/admin/").status_code == 404
