"""Per-seat plans against the Stripe fake: the subscription item's quantity follows the
billable members (invitations accepted, members removed, viewer role changes), with
proration and one idempotency key per change; Stripe failing, webhooks out of order and
another tenant's changes all converge on the right quantity."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import seats, services
from billing.models import BillingAccount, Plan
from billing.stripe_client import idempotency_key
from shared_apps.organizations import services as org_services
from shared_apps.organizations.models import OrganizationUser
from tenants.models import Tenant
from tests.billing.test_webhooks import deliver
from tests.factories import PASSWORD
from tests.stripe_fake import event_object, subscription_object
from tests.support import bearer_client, host_client

TEAM_PRICE = "price_test_team"
ACCEPT_URL = "http://alpha.localhost/api/v1/invitations/accept/"
ITEM_ROUTE_PREFIX = "POST /v1/subscription_items/"


@pytest.fixture
def tasks_inline():
    """Tasks queued after commit run here and now (the real task code, no broker)."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def team(fake_stripe):
    Plan.objects.filter(code="team").update(stripe_price_id=TEAM_PRICE)
    return Plan.objects.get(code="team")


def subscribe(world, fake, *, quantity: int | None = None) -> dict:
    """``world`` bought the per-seat plan (Checkout done, first webhook applied)."""
    tenant = world.tenant
    customer = services.customer_ensure(tenant=tenant)
    count = seats.billable_seat_count(tenant)
    sub = fake.set_subscription(
        subscription_object(
            customer=customer,
            status="active",
            price_id=TEAM_PRICE,
            quantity=count if quantity is None else quantity,
        )
    )
    services.subscription_sync(tenant=tenant, reason="test checkout")
    return sub


def account_of(world) -> BillingAccount:
    return BillingAccount.objects.get(tenant__schema_name=world.schema_name)


def stripe_quantity(fake, sub) -> int:
    return fake.subscriptions[sub["id"]]["items"]["data"][0]["quantity"]


def invite_and_accept(world, email: str, role: str = "member"):
    tenant = world.tenant
    with tenant_context(tenant):
        issued = org_services.invitation_create(
            tenant=tenant,
            email=email,
            role=role,
            acting_user=world.user("owner"),
            accept_url=ACCEPT_URL,
        )
    connection.set_schema_to_public()
    response = host_client(world.host).post(
        "/api/v1/invitations/accept/", {"token": issued.token, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201, response.content
    return OrganizationUser.objects.get(organization_id=tenant.organization_id, user__email=email)


def test_viewers_take_no_seat(alpha):
    roles = list(OrganizationUser.objects.for_tenant(alpha.tenant).values_list("role", flat=True))
    assert "viewer" in roles
    assert seats.billable_seat_count(alpha.tenant) == len([r for r in roles if r != "viewer"])


def test_quantity_follows_invitations_accepted_and_members_removed(
    alpha, team, fake_stripe, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sub = subscribe(alpha, fake_stripe)
    start = seats.billable_seat_count(alpha.tenant)
    assert Tenant.objects.get(pk=alpha.tenant.pk).plan.code == "team"
    assert account_of(alpha).seats_paid == start
    assert fake_stripe.item_updates == []  # Stripe already had the right quantity

    with django_capture_on_commit_callbacks(execute=True):
        joined = invite_and_accept(alpha, "seat-one@example.test")
    assert stripe_quantity(fake_stripe, sub) == start + 1
    with django_capture_on_commit_callbacks(execute=True):
        invite_and_accept(alpha, "seat-two@example.test")
    assert stripe_quantity(fake_stripe, sub) == start + 2

    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True):
        response = bearer_client(alpha, "admin").delete(f"/api/v1/members/{joined.pk}/")
    assert response.status_code == 204, response.content
    assert stripe_quantity(fake_stripe, sub) == start + 1

    updates = fake_stripe.item_updates
    assert [u["quantity"] for u in updates] == [start + 1, start + 2, start + 1]
    assert {u["proration_behavior"] for u in updates} == {"create_prorations"}
    keys = [u["idempotency_key"] for u in updates]
    assert len(set(keys)) == 3  # one key per change
    account = account_of(alpha)
    assert keys[-1] == idempotency_key("seats", alpha.tenant.pk, account.seat_sequence)
    assert (account.seats_desired, account.seats_paid) == (start + 1, start + 1)
    assert account.seats_pushed_sequence == account.seat_sequence


def test_a_viewer_becoming_a_member_takes_a_seat(
    alpha, team, fake_stripe, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sub = subscribe(alpha, fake_stripe)
    start = stripe_quantity(fake_stripe, sub)
    viewer = OrganizationUser.objects.for_tenant(alpha.tenant).get(role="viewer")
    with django_capture_on_commit_callbacks(execute=True), tenant_context(alpha.tenant):
        org_services.member_change_role(
            tenant=alpha.tenant, membership=viewer, role="member", acting_user=alpha.user("owner")
        )
    assert stripe_quantity(fake_stripe, sub) == start + 1
    with django_capture_on_commit_callbacks(execute=True), tenant_context(alpha.tenant):
        org_services.member_change_role(
            tenant=alpha.tenant, membership=viewer, role="admin", acting_user=alpha.user("owner")
        )
    assert len(fake_stripe.item_updates) == 1  # member → admin changes no seat


def test_stripe_failing_keeps_the_membership_and_a_retry_converges(
    alpha,
    team,
    fake_stripe,
    tasks_inline,
    django_capture_on_commit_callbacks,
    settings,
    monkeypatch,
):
    # Both retry layers, each once (production: stripe-python's 2 retries, the task's 8):
    # a retry of each is what shows they reuse the change's key, and each costs stripe-
    # python's 0.5 s wait.
    from billing.tasks import push_seats

    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    monkeypatch.setattr(push_seats, "max_retries", 1)
    with django_capture_on_commit_callbacks(execute=True):
        sub = subscribe(alpha, fake_stripe)
    start = stripe_quantity(fake_stripe, sub)
    item_route = ITEM_ROUTE_PREFIX + sub["items"]["data"][0]["id"]
    fake_stripe.fail(item_route, 100)  # Stripe down: every attempt and retry fails
    with django_capture_on_commit_callbacks(execute=True):
        joined = invite_and_accept(alpha, "while-down@example.test")
    assert OrganizationUser.objects.filter(pk=joined.pk).exists()  # the change holds
    account = account_of(alpha)
    assert account.seats_desired == start + 1 and account.seats_paid == start
    assert account.seats_pushed_sequence < account.seat_sequence
    assert "StripeUnavailable" in account.seats_last_error
    attempts = fake_stripe.calls("POST", "/v1/subscription_items/")
    assert len(attempts) == 4  # stripe-python's own retry, then the task's, each once
    # Every attempt of this one change carried the same key.
    expected = idempotency_key("seats", alpha.tenant.pk, account.seat_sequence)
    assert {a["idempotency_key"] for a in attempts} == {expected}
    assert stripe_quantity(fake_stripe, sub) == start

    fake_stripe.failures.clear()  # Stripe is back: the hourly reconcile converges
    from billing.tasks import reconcile_seats
    from tenants.background.headers import for_tenant

    reconcile_seats.apply(kwargs={"period": "test"}, headers=for_tenant(alpha.tenant))
    assert stripe_quantity(fake_stripe, sub) == start + 1
    account = account_of(alpha)
    assert (account.seats_paid, account.seats_last_error) == (start + 1, "")
    assert fake_stripe.calls("POST", "/v1/subscription_items/")[-1]["idempotency_key"] == expected
    assert len(fake_stripe.item_updates) == 1  # applied once


def test_a_retried_push_reuses_its_key_and_stripe_applies_it_once(alpha, team, fake_stripe):
    sub = subscribe(alpha, fake_stripe)
    tenant = alpha.tenant
    OrganizationUser.objects.for_tenant(tenant).filter(role="viewer").update(role="member")
    seats.seats_record(tenant=tenant)
    first = seats.seats_push(tenant=tenant)
    # The worker died after Stripe applied the change but before it was recorded: the
    # task runs again with the same sequence, hence the same key.
    BillingAccount.objects.filter(pk=first.pk).update(seats_pushed_sequence=0, seats_paid=1)
    second = seats.seats_push(tenant=tenant)
    keys = [c["idempotency_key"] for c in fake_stripe.calls("POST", "/v1/subscription_items/")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(fake_stripe.item_updates) == 1  # Stripe replayed its first answer
    assert second.seats_paid == stripe_quantity(fake_stripe, sub) == first.seats_desired


def test_out_of_order_webhooks_never_move_the_quantity_backwards(
    alpha, team, fake_stripe, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sub = subscribe(alpha, fake_stripe)
    start = stripe_quantity(fake_stripe, sub)
    with django_capture_on_commit_callbacks(execute=True):
        invite_and_accept(alpha, "late-one@example.test")
    assert account_of(alpha).seats_paid == start + 1
    now = int(time_now())
    # Stripe's events of the two states, delivered newest first.
    newer = dict(
        sub, items={**sub["items"], "data": [dict(sub["items"]["data"][0], quantity=start + 1)]}
    )
    older = dict(
        sub, items={**sub["items"], "data": [dict(sub["items"]["data"][0], quantity=start)]}
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event_object(newer, type_="customer.subscription.updated", created=now))
        deliver(event_object(older, type_="customer.subscription.updated", created=now - 60))
    account = account_of(alpha)
    assert account.seats_paid == start + 1 == stripe_quantity(fake_stripe, sub)
    assert len(fake_stripe.item_updates) == 1  # nothing pushed back and forth

    # An observation older than the stored one is ignored (two syncs racing).
    stale = account.seats_observed_at - dt.timedelta(seconds=5)
    assert not seats.seats_observe(account=account, quantity=start, observed_at=stale)
    assert account_of(alpha).seats_paid == start + 1

    # Someone lowers the quantity in Stripe's dashboard: the webhook shows it, and the
    # reconcile puts back what the members say.
    fake_stripe.subscriptions[sub["id"]]["items"]["data"][0]["quantity"] = 1
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event_object(older, type_="customer.subscription.updated", created=now + 5))
    assert stripe_quantity(fake_stripe, sub) == start + 1
    assert account_of(alpha).seats_paid == start + 1
    keys = [u["idempotency_key"] for u in fake_stripe.item_updates]
    assert len(keys) == 2 and keys[0] != keys[1]  # the correction is a change of its own


def time_now() -> float:
    return timezone.now().timestamp()


def test_another_tenants_seat_changes_never_touch_this_subscription(
    alpha, beta, team, fake_stripe, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sub_alpha = subscribe(alpha, fake_stripe)
        sub_beta = subscribe(beta, fake_stripe)
    alpha_quantity = stripe_quantity(fake_stripe, sub_alpha)
    beta_start = stripe_quantity(fake_stripe, sub_beta)
    with tenant_context(beta.tenant):
        issued = org_services.invitation_create(
            tenant=beta.tenant,
            email="beta-joiner@example.test",
            role="member",
            acting_user=beta.user("owner"),
            accept_url="http://beta.localhost/api/v1/invitations/accept/",
        )
    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True):
        # beta's token on alpha's host: refused, nothing pushed anywhere
        refused = host_client(alpha.host).post(
            "/api/v1/invitations/accept/",
            {"token": issued.token, "password": PASSWORD},
            format="json",
        )
    assert refused.status_code == 400
    assert fake_stripe.item_updates == []
    with django_capture_on_commit_callbacks(execute=True):
        accepted = host_client(beta.host).post(
            "/api/v1/invitations/accept/",
            {"token": issued.token, "password": PASSWORD},
            format="json",
        )
    assert accepted.status_code == 201
    assert stripe_quantity(fake_stripe, sub_beta) == beta_start + 1
    assert stripe_quantity(fake_stripe, sub_alpha) == alpha_quantity
    items = {u["item"] for u in fake_stripe.item_updates}
    assert items == {sub_beta["items"]["data"][0]["id"]}
    alpha_account = account_of(alpha)
    assert alpha_account.seat_sequence == 1 and alpha_account.seats_paid == alpha_quantity
    # alpha's reconcile finds nothing to do.
    assert seats.seats_reconcile(tenant=alpha.tenant).seats_paid == alpha_quantity
    assert {u["item"] for u in fake_stripe.item_updates} == items


def test_flat_plans_record_no_seats(alpha, fake_stripe):
    assert seats.seats_record(tenant=alpha.tenant) is None
    assert seats.seats_push(tenant=alpha.tenant) is None


def test_checkout_of_a_per_seat_plan_buys_one_seat_per_billable_member(alpha, team, fake_stripe):
    services.checkout_session_create(
        tenant=alpha.tenant,
        plan_code="team",
        success_url="http://alpha.localhost/app/billing/?checkout=success",
        cancel_url="http://alpha.localhost/app/billing/?checkout=canceled",
    )
    (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    line = call["body"]["line_items"]["0"]
    assert line == {"price": TEAM_PRICE, "quantity": str(seats.billable_seat_count(alpha.tenant))}
