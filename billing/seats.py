"""Per-seat plans: the Stripe subscription quantity follows the billable members (ADR 0025).

Billable members are every member except viewers (read-only seats are free, as on most
per-seat SaaS: a viewer cannot change anything). The flow:

1. A membership write (invitation accepted, member removed, role changed to or from
   viewer, ownership transfers included) calls ``seats_record`` inside its own
   transaction. It counts the billable members and, when the count changed, stores it as
   ``BillingAccount.seats_desired`` and bumps ``seat_sequence``. The membership change
   and the desired quantity commit together; nothing here talks to Stripe.
2. After commit, ``billing.tasks.push_seats`` (billing queue, retried with backoff) calls
   ``seats_push``: one Stripe ``POST /v1/subscription_items/{id}`` with ``quantity``,
   ``proration_behavior`` (``BILLING_SEAT_PRORATION``) and the idempotency key
   ``idempotency_key("seats", tenant, sequence)``. Every retry of change N sends the same
   key, so Stripe applies it once; change N+1 has its own key. Pushes of one tenant are
   serialised by a transaction advisory lock, so the newest count is the last one sent.
3. When Stripe fails the membership change still holds; the error is kept on the account
   and the task retries; the hourly ``seat-reconcile`` fan-out recounts and pushes again
   whatever still differs, so every tenant converges.
4. Webhooks (``customer.subscription.updated`` ...) make billing fetch the subscription
   from Stripe (``billing.services.subscription_sync``); its item quantity becomes
   ``seats_paid`` only if that observation is newer than the one stored
   (``seats_observed_at``), so late or shuffled events never move it backwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from billing.models import BillingAccount, Plan
from billing.stripe_client import billing_enabled, idempotency_key
from shared_apps.organizations.models import OrganizationUser
from shared_apps.organizations.roles import Role
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(namespace, tenant key): the two-key form, beside billing.limits'
# 7341 (limit checks) and the fan-out's namespace.
_PUSH_LOCK_NAMESPACE = 7342
# Roles that take a paid seat on a per-seat plan.
BILLABLE_ROLES = (Role.OWNER, Role.ADMIN, Role.MEMBER)


def billable_seat_count(tenant: Tenant) -> int:
    """Members who take a paid seat (all but viewers)."""
    return (
        OrganizationUser.objects.for_tenant(tenant)
        .filter(role__in=[r.value for r in BILLABLE_ROLES])
        .count()
    )


def _plan_is_per_seat(tenant: Tenant) -> bool:
    return Plan.objects.filter(pk=tenant.plan_id, pricing="per_seat").exists()


def seats_record(*, tenant: Tenant) -> BillingAccount | None:
    """Record the tenant's billable member count as the quantity Stripe should have.

    Call inside the membership write's transaction (it joins it). On a per-seat plan, a
    changed count bumps ``seat_sequence`` and queues the Stripe write for after commit.
    Returns the account (None on a flat plan).
    """
    if not _plan_is_per_seat(tenant):
        return None
    with transaction.atomic():
        account = (
            BillingAccount.objects.for_tenant(tenant)
            .select_for_update()
            .get_or_create(tenant=tenant)[0]
        )
        count = billable_seat_count(tenant)
        if count != account.seats_desired or account.seat_sequence == 0:
            account.seats_desired = count
            account.seat_sequence += 1
            account.save(update_fields=["seats_desired", "seat_sequence"])
            tenant_id = tenant.pk
            transaction.on_commit(lambda: _queue_push(tenant_id))
    return account


def _queue_push(tenant_id: int) -> None:
    from billing.tasks import push_seats
    from tenants.tasking import for_tenant

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return
    try:
        push_seats.apply_async(headers=for_tenant(tenant))
    except Exception:  # broker down: the desired count is stored; the reconcile pushes it
        logger.warning("could not queue the seat push of tenant %s", tenant_id, exc_info=True)


def _lock_pushes(tenant: Tenant) -> None:
    key = zlib.crc32(f"seats:{tenant.pk}".encode()) - 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PUSH_LOCK_NAMESPACE, key])


def seats_observe(
    *, account: BillingAccount, quantity: int | None, observed_at: dt.datetime
) -> bool:
    """Store Stripe's quantity seen at ``observed_at`` unless a newer one is stored."""
    if quantity is None:
        return False
    updated = (
        BillingAccount.objects.filter(pk=account.pk)
        .exclude(seats_observed_at__gt=observed_at)
        .update(seats_paid=quantity, seats_observed_at=observed_at)
    )
    return bool(updated)


def seats_push(*, tenant: Tenant) -> BillingAccount | None:
    """Send the desired seat quantity to Stripe if it differs from what Stripe has.

    Raises ``StripeUnavailable`` / ``StripeRejected`` (the task retries); the error is
    kept on the account first. Returns the account, or None when there is nothing to
    push to (flat plan, no subscription yet, billing disabled).
    """
    from billing.services import StripeRejected, StripeUnavailable, _call
    from billing.stripe_client import stripe_api

    if not billing_enabled() or not _plan_is_per_seat(tenant):
        return None
    error: Exception | None = None
    with transaction.atomic():
        _lock_pushes(tenant)
        account = BillingAccount.objects.for_tenant(tenant).filter(tenant=tenant).first()
        if account is None or not account.stripe_subscription_item_id:
            return None
        if account.seats_paid == max(1, account.seats_desired):
            if account.seats_pushed_sequence < account.seat_sequence:  # Stripe has it
                account.seats_pushed_sequence = account.seat_sequence
                account.save(update_fields=["seats_pushed_sequence"])
            return account
        if account.seats_pushed_sequence >= account.seat_sequence:
            # Stripe drifted (changed outside Tessera, or a lost write): a new change.
            account.seat_sequence += 1
            account.save(update_fields=["seat_sequence"])
        sequence, quantity = account.seat_sequence, max(1, account.seats_desired)
        observed_at = timezone.now()
        stripe = stripe_api()
        try:
            item: Any = _call(
                stripe.SubscriptionItem.modify,
                id=account.stripe_subscription_item_id,
                quantity=quantity,
                proration_behavior=settings.BILLING_SEAT_PRORATION,
                idempotency_key=idempotency_key("seats", tenant.pk, sequence),
            )
        except (StripeUnavailable, StripeRejected) as exc:
            error = exc
            BillingAccount.objects.filter(pk=account.pk).update(
                seats_last_error=f"{type(exc).__name__}: {exc.__cause__ or exc}"[:2000]
            )
        else:
            seats_observe(account=account, quantity=item.get("quantity"), observed_at=observed_at)
            BillingAccount.objects.filter(pk=account.pk).update(
                seats_pushed_sequence=Greatest(F("seats_pushed_sequence"), sequence),
                seats_last_error="",
            )
    if error is not None:
        logger.warning("seat push for tenant %s failed: %s", tenant.pk, error)
        raise error
    account.refresh_from_db()
    return account


def seats_reconcile(*, tenant: Tenant) -> BillingAccount | None:
    """Recount (memberships changed outside the services, e.g. in the admin) and push."""
    seats_record(tenant=tenant)
    return seats_push(tenant=tenant)


def seats_overview(*, tenant: Tenant, account: BillingAccount | None) -> dict[str, Any] | None:
    """What the billing page shows of seats (None on a flat plan)."""
    if not tenant.plan.is_per_seat:
        return None
    return {
        "used": billable_seat_count(tenant),
        "paid": account.seats_paid if account else None,
        "price_cents": tenant.plan.monthly_price_cents,
        "pending": bool(account and account.seats_pushed_sequence < account.seat_sequence),
        "error": bool(account and account.seats_last_error),
    }
