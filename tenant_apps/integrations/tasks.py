"""Webhook delivery tasks, on the ``bulk`` queue (ADR 0021)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from tenant_apps.integrations import delivery
from tenants.tasking import for_tenant, public_task, tenant_task

logger = logging.getLogger(__name__)

# One task sends at most this many deliveries of its endpoint (or for this long) before
# handing on to a fresh task, so a long backlog never monopolises a worker process.
BATCH_DELIVERIES = 50
BATCH_SECONDS = 20.0
# The sweeper leaves a just-written event this long to its own after-commit dispatch.
DISPATCH_GRACE_SECONDS = 10


# Fire and forget: nobody reads these tasks' results, so none is stored (a result would
# cost the worker two Redis writes per task, and the sender a result subscription on the
# request path of every write that records an event).
@tenant_task(
    queue="bulk", name="tenant_apps.integrations.tasks.dispatch_webhook_event", ignore_result=True
)
def dispatch_webhook_event(event_id: int) -> int:
    """Create an event's deliveries and queue one sender per endpoint."""
    endpoint_ids = delivery.dispatch(event_id)
    for endpoint_id in endpoint_ids:
        deliver_webhooks.delay(endpoint_id)
    return len(endpoint_ids)


@tenant_task(
    queue="bulk", name="tenant_apps.integrations.tasks.deliver_webhooks", ignore_result=True
)
def deliver_webhooks(endpoint_id: int) -> int:
    """Send the endpoint's due deliveries, oldest first; returns how many were sent."""
    outcome, attempts, retry_in = delivery.deliver_batch(
        endpoint_id, limit=BATCH_DELIVERIES, seconds=BATCH_SECONDS
    )
    if outcome == "failed":
        if retry_in is not None and retry_in <= delivery.COUNTDOWN_LIMIT:
            deliver_webhooks.apply_async(args=[endpoint_id], countdown=retry_in)
        # A failing endpoint gets one attempt per task: its next ones wait for their
        # retry time, and other endpoints are not kept waiting behind it.
    elif outcome == "more":
        deliver_webhooks.delay(endpoint_id)  # more may be due: a fresh task continues
    return attempts


def sweep_schema(tenant, now=None) -> tuple[list[int], list[int]]:
    """In the current tenant schema: events whose dispatch was lost, and endpoints with
    deliveries due and not leased. Queues the work; returns (event ids, endpoint ids)."""
    from tenant_apps.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent

    now = now or timezone.now()
    events = list(
        WebhookEvent.objects.filter(
            dispatched_at__isnull=True,
            created__lte=now - timedelta(seconds=DISPATCH_GRACE_SECONDS),
        )
        .order_by("id")
        .values_list("pk", flat=True)[:1000]
    )
    endpoints = sorted(
        set(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING,
                next_attempt_at__lte=now,
                endpoint__enabled=True,
            )
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
            .values_list("endpoint_id", flat=True)
        )
    )
    for event_id in events:
        dispatch_webhook_event.apply_async(args=[event_id], headers=for_tenant(tenant))
    for endpoint_id in endpoints:
        deliver_webhooks.apply_async(args=[endpoint_id], headers=for_tenant(tenant))
    return events, endpoints


@public_task(queue="bulk", name="tenant_apps.integrations.tasks.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> dict[str, int]:
    """Every 30 s (beat): over the live tenants whose plan has webhooks, queue lost
    dispatches and due retries. Two indexed queries per such tenant."""
    from django.db.models import Q
    from django.utils import timezone

    from billing.entitlements import Feature, has_feature
    from tenants.models import READ_ONLY_STATUSES, Tenant
    from tenants.walking import walk_schemas

    # The plan's feature, or a live override granting it; then the one entitlement check
    # (an override may also take it away).
    granted = Q(
        entitlement_overrides__key=Feature.WEBHOOKS.value,
        entitlement_overrides__enabled=True,
    ) & (
        Q(entitlement_overrides__expires_at__isnull=True)
        | Q(entitlement_overrides__expires_at__gt=timezone.now())
    )
    tenants = {
        t.schema_name: t
        for t in Tenant.objects.filter(
            Q(plan__features__contains=[Feature.WEBHOOKS.value]) | granted
        )
        .exclude(status__in=READ_ONLY_STATUSES)
        .select_related("plan")
        .distinct()
        .order_by("pk")
        if has_feature(t, Feature.WEBHOOKS)
    }
    totals = {"tenants": 0, "events": 0, "endpoints": 0}
    for schema in walk_schemas(list(tenants)):
        try:
            events, endpoints = sweep_schema(tenants[schema])
        except Exception:  # one broken schema must not stop the others
            logger.exception("webhook sweep failed in %s", schema)
            continue
        totals["tenants"] += 1
        totals["events"] += len(events)
        totals["endpoints"] += len(endpoints)
    return totals
