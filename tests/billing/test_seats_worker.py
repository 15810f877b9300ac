"""Per-seat quantities on a real Celery worker (prefork, Redis, PostgreSQL) against the
Stripe fake: an invitation accepted over the API commits, its after-commit message reaches
``push_seats`` on the billing queue, and Stripe's quantity follows; Stripe failing makes
the task retry with the same idempotency key until it converges."""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from billing import seats, services
from billing.models import BillingAccount, Plan
from billing.stripe_client import idempotency_key
from shared_apps.organizations import services as org_services
from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser
from tenants.models import Tenant
from tests import celery_support
from tests.billing.conftest import WEBHOOK_SECRET
from tests.celery_support import Worker, configure_app, purge_prefix, wait_for
from tests.factories import PASSWORD
from tests.stripe_fake import subscription_object
from tests.support import bearer_client, host_client, session_world

celery_prefix = celery_support.celery_prefix

pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]

TEAM_PRICE = "price_test_team_worker"
# The worker's retries, quicker than production's (stripe-python's 2 retries, then the
# task's after up to 5 s): one retry of stripe-python's (0.5 s), then the task's after at
# most 1 s. Either is a retry with the change's key, which is what the test is about.
QUICK_RETRIES = {"STRIPE_MAX_NETWORK_RETRIES": "1", "BILLING_TASK_RETRY_BACKOFF": "1"}
STRIPE_KEY = "sk_test_51TesseraFakeKey0000000000000000"


@pytest.fixture(scope="module")
def billing_worker(stripe_server, celery_prefix):
    """A worker of its own on the billing queue, whose settings point at the fake, on a
    Redis prefix of its own (the session's worker, when this xdist worker runs one,
    consumes the billing queue of the session prefix), to which this process's Celery
    app is pointed meanwhile."""
    from config.celery import app

    prefix = f"{celery_prefix}seats-{uuid.uuid4().hex[:6]}:"
    configure_app(app, prefix=prefix)
    saved = {k: os.environ.get(k) for k in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE")}
    os.environ["STRIPE_SECRET_KEY"] = STRIPE_KEY
    os.environ["STRIPE_API_BASE"] = stripe_server.base_url
    try:
        worker = Worker(
            database=connection.settings_dict["NAME"],
            prefix=prefix,
            concurrency=1,
            queues="billing",
            env=QUICK_RETRIES,  # (read at import, with Stripe's keys: a fresh process)
        ).start()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield worker
    worker.kill_and_forget()
    configure_app(app, prefix=celery_prefix)
    purge_prefix(prefix)


@pytest.fixture
def team_alpha(committed_db, stripe_server, settings):
    """alpha (committed) on the per-seat plan with a Stripe subscription; undone after."""
    stripe_server.reset()
    settings.STRIPE_SECRET_KEY = STRIPE_KEY
    settings.STRIPE_API_BASE = stripe_server.base_url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    alpha = session_world("alpha")
    tenant = alpha.tenant
    team = Plan.objects.get(code="team")
    # Every column of the tenant row as the session built it (the sync below sets its
    # plan and billing status): restored afterwards, for the tests that follow.
    row_before = Tenant.objects.filter(pk=tenant.pk).values().get()
    Plan.objects.filter(pk=team.pk).update(stripe_price_id=TEAM_PRICE)
    members_before = set(OrganizationUser.objects.for_tenant(tenant).values_list("pk", flat=True))
    with tenant_context(tenant):
        from tenant_apps.audit.models import AuditEntry

        last_audit = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    customer = services.customer_ensure(tenant=tenant)
    sub = stripe_server.set_subscription(
        subscription_object(
            customer=customer,
            status="active",
            price_id=TEAM_PRICE,
            quantity=seats.billable_seat_count(tenant),
        )
    )
    services.subscription_sync(tenant=tenant, reason="test checkout")
    try:
        yield alpha, sub
    finally:
        import stripe

        stripe.api_base = "https://api.stripe.com"
        connection.set_schema_to_public()
        new = OrganizationUser.objects.for_tenant(tenant).exclude(pk__in=members_before)
        from shared_apps.accounts.models import User

        users = list(new.values_list("user_id", flat=True))
        new.delete()
        User.objects.filter(pk__in=users).delete()
        OrganizationInvitation.objects.for_tenant(tenant).delete()
        BillingAccount.objects.filter(tenant=tenant).delete()
        Tenant.objects.filter(pk=tenant.pk).update(
            **{name: value for name, value in row_before.items() if name != "id"}
        )
        Plan.objects.filter(pk=team.pk).update(stripe_price_id="")
        with tenant_context(tenant):
            AuditEntry.objects.filter(id__gt=last_audit).delete()


def quantity(fake, sub) -> int:
    return fake.subscriptions[sub["id"]]["items"]["data"][0]["quantity"]


def test_the_worker_pushes_seat_changes_and_retries_through_stripe_failures(
    team_alpha, stripe_server, billing_worker
):
    alpha, sub = team_alpha
    tenant = alpha.tenant
    start = quantity(stripe_server, sub)
    item_route = "POST /v1/subscription_items/" + sub["items"]["data"][0]["id"]
    stripe_server.fail(item_route, 2)  # the task's first attempt (with stripe-python's retry)
    with tenant_context(tenant), transaction.atomic():
        issued = org_services.invitation_create(
            tenant=tenant,
            email="worker-seat@example.test",
            role="member",
            acting_user=alpha.user("owner"),
            accept_url="http://alpha.localhost/api/v1/invitations/accept/",
        )
    connection.set_schema_to_public()
    response = host_client(alpha.host).post(
        "/api/v1/invitations/accept/", {"token": issued.token, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201, response.content
    wait_for(
        lambda: quantity(stripe_server, sub) == start + 1,
        timeout=60,
        what=f"Stripe's quantity to follow the join\n{billing_worker.log()[-3000:]}",
    )
    account = BillingAccount.objects.get(tenant=tenant)
    key = idempotency_key("seats", tenant.pk, account.seat_sequence)
    attempts = stripe_server.calls("POST", "/v1/subscription_items/")
    assert len(attempts) == 3 and {a["idempotency_key"] for a in attempts} == {key}
    wait_for(
        lambda: BillingAccount.objects.filter(
            tenant=tenant, seats_paid=start + 1, seats_last_error=""
        ).exists(),
        what="the account to record Stripe's answer",
    )

    joined = OrganizationUser.objects.for_tenant(tenant).get(user__email="worker-seat@example.test")
    removed = bearer_client(alpha, "owner").delete(f"/api/v1/members/{joined.pk}/")
    assert removed.status_code == 204
    wait_for(lambda: quantity(stripe_server, sub) == start, timeout=30, what="the removal")
    assert [u["quantity"] for u in stripe_server.item_updates] == [start + 1, start]
