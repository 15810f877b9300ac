"""Billing writes: Stripe customers and sessions, subscription sync, webhooks, metering,
and the billing-driven parts of a tenant's life (trial expiry, grace, retention).

State always comes from the newest state of the Stripe object, never from the order
in which events arrive: every subscription-related event makes Tessera fetch the
customer's subscription from Stripe and apply *that*. Replaying, duplicating or
shuffling events therefore converges to the same result.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import BillingAccount, Plan, UsageReport, WebhookEvent, WebhookEventStatus
from billing.stripe_client import StripeUnavailable, idempotency_key, stripe_api
from shared_apps.core.errors import ErrorCode, TesseraError, ValidationFailed
from tenants.models import Tenant, TenantStatus
from tenants.services import tenant_set_status

logger = logging.getLogger(__name__)


class StripeRejected(TesseraError):
    code = ErrorCode.STRIPE_ERROR
    http_status = 502
    message = "Stripe refused the request."


class InvalidSignature(TesseraError):
    code = ErrorCode.INVALID_SIGNATURE
    http_status = 400
    message = "The Stripe-Signature header is missing, malformed, stale or wrong."


# Stripe subscription status → tenant status. None: leave the tenant as it is.
SUBSCRIPTION_TO_TENANT: dict[str, TenantStatus | None] = {
    "trialing": TenantStatus.TRIALING,
    "active": TenantStatus.ACTIVE,
    "past_due": TenantStatus.PAST_DUE,
    "unpaid": TenantStatus.SUSPENDED,
    "paused": TenantStatus.SUSPENDED,
    "canceled": TenantStatus.CANCELED,
    "incomplete_expired": TenantStatus.CANCELED,
    "incomplete": None,
}
# Which subscription to trust when a customer has several: the most "alive" one.
_STATUS_RANK = {
    "active": 6,
    "trialing": 5,
    "past_due": 4,
    "unpaid": 3,
    "paused": 2,
    "incomplete": 1,
    "canceled": 0,
    "incomplete_expired": 0,
}
SUBSCRIPTION_EVENT_PREFIXES = (
    "customer.subscription.",
    "invoice.",
    "checkout.session.",
    "customer.updated",
)


def account_for(tenant: Tenant) -> BillingAccount:
    account, _ = BillingAccount.objects.for_tenant(tenant).get_or_create(tenant=tenant)
    return account


# Outbound ---------------------------------------------------------------------------------


def _call(operation, **params):
    stripe = stripe_api()
    try:
        return operation(**params)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise StripeUnavailable() from exc
    except stripe.StripeError as exc:
        raise StripeRejected(str(getattr(exc, "user_message", None) or exc)) from exc


def customer_ensure(*, tenant: Tenant) -> str:
    """The tenant's Stripe customer id, creating the customer once (idempotently)."""
    account = account_for(tenant)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    stripe = stripe_api()
    customer = _call(
        stripe.Customer.create,
        email=tenant.email or None,
        name=tenant.name,
        metadata={"tenant_id": str(tenant.pk), "schema_name": tenant.schema_name},
        idempotency_key=idempotency_key("customer", tenant.pk),
    )
    BillingAccount.objects.filter(pk=account.pk).update(stripe_customer_id=customer["id"])
    _mirror_customer(tenant, customer)
    return customer["id"]


def _mirror_customer(tenant: Tenant, customer: Any) -> None:
    """Keep dj-stripe's Customer table (public schema) in step, linked to the tenant."""
    from djstripe.models import Customer as DjstripeCustomer

    mirrored = DjstripeCustomer.sync_from_stripe_data(customer)
    if mirrored.subscriber_id != tenant.pk:
        mirrored.subscriber = tenant
        mirrored.save(update_fields=["subscriber"])


@dataclass(frozen=True)
class SessionUrl:
    url: str
    id: str


def checkout_session_create(
    *,
    tenant: Tenant,
    plan_code: str,
    success_url: str,
    cancel_url: str,
    request_key: str | None = None,
) -> SessionUrl:
    """A Stripe Checkout session subscribing the tenant to ``plan_code``.

    ``request_key`` (the client's Idempotency-Key header, if any) makes a retried request
    return the same session; without it each call is a new attempt with its own key.
    """
    stripe = stripe_api()  # BillingDisabled (503) before anything else
    plan = Plan.objects.filter(code=plan_code).first()
    if plan is None or not plan.stripe_price_id:
        raise ValidationFailed(fields={"plan": [f"{plan_code!r} cannot be bought online."]})
    customer_id = customer_ensure(tenant=tenant)
    quantity = 1
    if plan.is_per_seat:
        from billing.seats import billable_seat_count

        quantity = max(1, billable_seat_count(tenant))
    session = _call(
        stripe.checkout.Session.create,
        mode="subscription",
        customer=customer_id,
        client_reference_id=str(tenant.pk),
        line_items=[{"price": plan.stripe_price_id, "quantity": quantity}],
        success_url=success_url,
        cancel_url=cancel_url,
        subscription_data={"metadata": {"tenant_id": str(tenant.pk), "plan": plan.code}},
        idempotency_key=idempotency_key(
            "checkout", tenant.pk, plan.code, request_key or uuid.uuid4()
        ),
    )
    return SessionUrl(url=session["url"], id=session["id"])


def portal_session_create(
    *, tenant: Tenant, return_url: str, request_key: str | None = None
) -> SessionUrl:
    customer_id = customer_ensure(tenant=tenant)
    stripe = stripe_api()
    session = _call(
        stripe.billing_portal.Session.create,
        customer=customer_id,
        return_url=return_url,
        idempotency_key=idempotency_key("portal", tenant.pk, request_key or uuid.uuid4()),
    )
    return SessionUrl(url=session["url"], id=session["id"])


# Subscription state -------------------------------------------------------------------------


def _best_subscription(subscriptions: list[Any]) -> Any | None:
    if not subscriptions:
        return None
    return max(
        subscriptions, key=lambda s: (_STATUS_RANK.get(s["status"], 0), s.get("created") or 0)
    )


def _plan_for(subscription: Any) -> Plan | None:
    items = (subscription.get("items") or {}).get("data") or []
    price_ids = [(item.get("price") or {}).get("id") for item in items]
    return Plan.objects.filter(stripe_price_id__in=[p for p in price_ids if p]).first()


def _timestamp(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC) if value else None


def _plan_item(subscription: Any, plan: Plan | None) -> Any | None:
    items = (subscription.get("items") or {}).get("data") or []
    for item in items:
        if plan is not None and (item.get("price") or {}).get("id") == plan.stripe_price_id:
            return item
    return items[0] if items else None


@transaction.atomic
def subscription_apply(
    *,
    tenant: Tenant,
    subscription: Any | None,
    reason: str,
    observed_at: dt.datetime | None = None,
) -> Tenant:
    """Set the tenant's plan and status from the newest state of its subscription.

    ``observed_at`` is when that state was read from Stripe: a per-seat item's quantity
    is stored only if no newer observation is (``billing.seats.seats_observe``).
    """
    from billing import seats

    tenant = Tenant.objects.select_for_update().select_related("plan").get(pk=tenant.pk)
    account = (
        BillingAccount.objects.for_tenant(tenant)
        .select_for_update()
        .get_or_create(tenant=tenant)[0]
    )
    now = timezone.now()
    if subscription is None:
        account.synced_at = now
        account.save(update_fields=["synced_at"])
        return tenant
    status = subscription["status"]
    account.stripe_subscription_id = subscription["id"]
    account.subscription_status = status
    items = (subscription.get("items") or {}).get("data") or []
    period_end = subscription.get("current_period_end") or (
        items[0].get("current_period_end") if items else None
    )
    account.current_period_end = _timestamp(period_end)
    account.past_due_since = (account.past_due_since or now) if status == "past_due" else None
    account.synced_at = now
    account.save()

    plan = _plan_for(subscription)
    item = _plan_item(subscription, plan)
    account.stripe_subscription_item_id = item.get("id", "") if item else ""
    account.save(update_fields=["stripe_subscription_item_id"])
    if plan is not None and plan.pk != tenant.plan_id:
        tenant.plan = plan
        tenant.save(update_fields=["plan", "updated"])
    if tenant.plan.is_per_seat and item is not None:
        seats.seats_observe(
            account=account, quantity=item.get("quantity"), observed_at=observed_at or now
        )
        recorded = seats.seats_record(tenant=tenant)  # queues a push if the count moved
        # The plan was just read per seat in this transaction, the tenant row locked:
        # seats_record returns the account (None is only for flat plans).
        assert recorded is not None
        recorded.refresh_from_db()
        if recorded.seats_paid != recorded.seats_desired and status not in (
            "canceled",
            "incomplete_expired",
        ):
            tenant_id = tenant.pk
            transaction.on_commit(lambda: seats._queue_push(tenant_id))
    target = SUBSCRIPTION_TO_TENANT.get(status)
    if target is not None and tenant.status != target:
        tenant_set_status(tenant=tenant, status=target, acting_user=None, reason=reason)
    return tenant


def subscription_sync(*, tenant: Tenant, reason: str = "sync") -> Tenant:
    """Fetch the tenant's subscriptions from Stripe and apply the newest state."""
    account = account_for(tenant)
    if not account.stripe_customer_id:
        return tenant
    stripe = stripe_api()
    observed_at = timezone.now()  # the state read below is at least this new
    listing = _call(
        stripe.Subscription.list, customer=account.stripe_customer_id, status="all", limit=20
    )
    return subscription_apply(
        tenant=tenant,
        subscription=_best_subscription(list(listing["data"])),
        reason=reason,
        observed_at=observed_at,
    )


# Webhooks ---------------------------------------------------------------------------------


def webhook_event_verify(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """Check Stripe's signature scheme (HMAC-SHA256 over ``t.payload``, ≤ 300 s old)."""
    import stripe

    if not settings.STRIPE_WEBHOOK_SECRET:
        from billing.stripe_client import BillingDisabled

        raise BillingDisabled("Webhooks are disabled: STRIPE_WEBHOOK_SECRET is not set.")
    if not signature:
        raise InvalidSignature()
    timestamps = [p[2:] for p in signature.split(",") if p.startswith("t=")]
    if not timestamps or not timestamps[0].isdigit():
        raise InvalidSignature()
    if int(timestamps[0]) > time.time() + settings.STRIPE_WEBHOOK_TOLERANCE:
        raise InvalidSignature()  # from the future: Stripe's library only checks the past
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidSignature() from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or "type" not in event:
        raise ValidationFailed("Not a Stripe event.")
    return event


def webhook_event_receive(*, payload: bytes, signature: str | None) -> tuple[WebhookEvent, bool]:
    """Verify and store an event. Returns (event, needs_processing).

    A duplicate of a processed or ignored event needs nothing; a duplicate of a failed
    or still-pending one is processed again (that is how Stripe's retries heal us).
    """
    data = webhook_event_verify(payload=payload, signature=signature)
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                stripe_id=data["id"],
                type=str(data["type"])[:100],
                livemode=bool(data.get("livemode")),
                payload=data,
                stripe_created=_timestamp(data.get("created")),
            )
        return event, True
    except IntegrityError:
        event = WebhookEvent.objects.get(stripe_id=data["id"])
        return event, event.status in (WebhookEventStatus.PENDING, WebhookEventStatus.FAILED)


def _tenant_for_event(data: dict[str, Any]) -> Tenant | None:
    obj = (data.get("data") or {}).get("object") or {}
    customer = obj.get("customer") if obj.get("object") != "customer" else obj.get("id")
    if isinstance(customer, dict):
        customer = customer.get("id")
    account = (
        BillingAccount.objects.select_related("tenant").filter(stripe_customer_id=customer).first()
        if customer
        else None
    )
    if account is not None:
        return account.tenant
    tenant_id = (obj.get("metadata") or {}).get("tenant_id") or obj.get("client_reference_id")
    if tenant_id and str(tenant_id).isdigit():
        tenant = Tenant.objects.filter(pk=int(tenant_id)).first()
        if tenant is not None and customer:
            BillingAccount.objects.update_or_create(
                tenant=tenant, defaults={"stripe_customer_id": customer}
            )
        return tenant
    return None


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Apply one stored event, exactly once even if two workers get it at the same time.

    The row is locked (others skip it); a failure is recorded on the row and re-raised
    so the task retries with backoff, and a redelivery from Stripe processes it again.
    """
    error: Exception | None = None
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None or event.status in (
            WebhookEventStatus.PROCESSED,
            WebhookEventStatus.IGNORED,
        ):
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                handled = _dispatch(event)
        except Exception as exc:
            error = exc
            event.status = WebhookEventStatus.FAILED
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        else:
            event.status = WebhookEventStatus.PROCESSED if handled else WebhookEventStatus.IGNORED
            event.last_error = ""
            event.processed_at = timezone.now()
        event.save(update_fields=["status", "attempts", "last_error", "processed_at"])
    if error is not None:
        raise error
    return event


def _dispatch(event: WebhookEvent) -> bool:
    if not event.type.startswith(SUBSCRIPTION_EVENT_PREFIXES):
        return False  # unknown or uninteresting: acknowledged and recorded as ignored
    tenant = _tenant_for_event(event.payload)
    if tenant is None:
        logger.info("stripe event %s (%s) names no known tenant", event.stripe_id, event.type)
        return False
    subscription_sync(tenant=tenant, reason=f"stripe {event.type} {event.stripe_id}")
    return True


# Periodic jobs -------------------------------------------------------------------------------


def billing_deadlines_enforce(*, tenant: Tenant, now: dt.datetime | None = None) -> bool:
    """Suspend ``tenant`` if its trial ended without a subscription, or if it has been
    past due for longer than BILLING_PAST_DUE_GRACE_DAYS. Returns True if suspended."""
    now = now or timezone.now()
    tenant = Tenant.objects.select_related("billing_account").get(pk=tenant.pk)
    account = getattr(tenant, "billing_account", None)
    reason = None
    if (
        tenant.status == TenantStatus.TRIALING
        and tenant.trial_ends_at is not None
        and tenant.trial_ends_at < now
        and not (account and account.subscription_status in ("active", "trialing"))
    ):
        reason = "trial ended"
    grace = dt.timedelta(days=settings.BILLING_PAST_DUE_GRACE_DAYS)
    if (
        tenant.status == TenantStatus.PAST_DUE
        and account is not None
        and account.past_due_since is not None
        and account.past_due_since < now - grace
    ):
        reason = "past due beyond the grace period"
    if reason is None:
        return False
    tenant_set_status(tenant=tenant, status=TenantStatus.SUSPENDED, acting_user=None, reason=reason)
    return True


def usage_period(day: dt.date) -> str:
    return day.isoformat()


def usage_report(*, tenant: Tenant, day: dt.date) -> UsageReport | None:
    """Report the tenant's orders of ``day`` to Stripe, once per (tenant, day).

    Runs inside the tenant's schema. The same idempotency key (and meter event
    identifier) is used for every attempt, and the local row is written in the same
    transaction as the call succeeds, so retries and double runs never double-bill.
    """
    from tenant_apps.orders.models import Order

    period = usage_period(day)
    existing = UsageReport.objects.for_tenant(tenant).filter(period=period).first()
    if existing is not None:
        return existing
    account = account_for(tenant)
    if not account.stripe_customer_id:
        return None
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    quantity = Order.objects.filter(
        created__gte=start, created__lt=start + dt.timedelta(days=1)
    ).count()
    key = idempotency_key("usage", tenant.pk, period)
    stripe = stripe_api()
    with transaction.atomic():
        report = UsageReport.objects.create(
            tenant=tenant, period=period, quantity=quantity, idempotency_key=key
        )
        _call(
            stripe.billing.MeterEvent.create,
            event_name=settings.STRIPE_METER_EVENT_NAME,
            identifier=key,
            timestamp=int(start.timestamp()) + 86399,
            payload={"stripe_customer_id": account.stripe_customer_id, "value": str(quantity)},
            idempotency_key=key,
        )
    return report
