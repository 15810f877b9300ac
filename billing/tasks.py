"""Billing background work: webhook processing, metering and deadlines (billing queue)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from billing import seats, services
from billing.models import WebhookEvent, WebhookEventStatus
from billing.stripe_client import billing_enabled
from tenants.background.tasking import public_task, tenant_task
from tenants.context import current_tenant

logger = logging.getLogger(__name__)

WEBHOOK_MAX_ATTEMPTS = 10


@public_task(
    queue="billing",
    autoretry_for=(Exception,),
    retry_backoff=settings.BILLING_TASK_RETRY_BACKOFF,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_ATTEMPTS,
)
def process_webhook_event(event_id: int) -> str | None:
    event = services.webhook_event_process(event_id=event_id)
    return event.status if event else None


@public_task(queue="billing")
def requeue_stuck_webhook_events() -> int:
    """Re-send events left pending (broker down at receipt) or failed (retries spent)."""
    cutoff = timezone.now() - dt.timedelta(minutes=2)
    stuck = WebhookEvent.objects.filter(
        status__in=[WebhookEventStatus.PENDING, WebhookEventStatus.FAILED],
        received_at__lt=cutoff,
        attempts__lt=WEBHOOK_MAX_ATTEMPTS,
    ).values_list("pk", flat=True)[:500]
    count = 0
    for event_id in stuck:
        process_webhook_event.delay(event_id)
        count += 1
    return count


@tenant_task(queue="billing", writes=False)
def enforce_billing_deadlines(*, period: str) -> bool:
    """Per tenant (fan-out): trial expiry and the past-due grace period."""
    return services.billing_deadlines_enforce(tenant=current_tenant())


@tenant_task(queue="billing", writes=False)
def meter_usage(*, period: str) -> int | None:
    """Per tenant (fan-out, daily): report yesterday's orders to Stripe exactly once."""
    if not billing_enabled():
        return None
    day = dt.date.fromisoformat(period[:10]) - dt.timedelta(days=1)
    report = services.usage_report(tenant=current_tenant(), day=day)
    return report.quantity if report else None


SEAT_PUSH_MAX_RETRIES = 8


@tenant_task(
    queue="billing",
    writes=False,  # writes billing rows in public only; a suspended tenant's seats still count
    autoretry_for=(services.StripeUnavailable, services.StripeRejected),
    retry_backoff=settings.BILLING_TASK_RETRY_BACKOFF,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=SEAT_PUSH_MAX_RETRIES,
)
def push_seats() -> int | None:
    """After a membership change (per-seat plans): Stripe's quantity := billable members.
    Retries reuse the change's idempotency key (billing.seats)."""
    account = seats.seats_push(tenant=current_tenant())
    return account.seats_paid if account else None


@tenant_task(queue="billing", writes=False)
def reconcile_seats(*, period: str) -> int | None:
    """Per tenant (fan-out, hourly): recount billable members and push what differs."""
    if not billing_enabled():
        return None
    account = seats.seats_reconcile(tenant=current_tenant())
    return account.seats_paid if account else None


@tenant_task(queue="bulk", writes=False)  # retention applies to read-only tenants too
def purge_audit_log(*, period: str) -> int:
    """Per tenant (fan-out, daily): delete audit entries older than the tenant's
    ``audit_log_days`` entitlement (None: kept forever)."""
    from tenant_apps.audit.services import audit_log_purge

    return audit_log_purge(tenant=current_tenant())
