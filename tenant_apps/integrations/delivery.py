"""Sending the outbox: dispatch, claim, sign, send, record, retry (ADR 0021).

* ``dispatch(event_id)`` creates one ``WebhookDelivery`` per subscribed endpoint
  (idempotent: unique per event and endpoint) and queues ``deliver_endpoint`` for each.
* ``deliver_endpoint(endpoint_id)`` sends that endpoint's due deliveries oldest first.
  Each is *claimed* in a short transaction that locks the endpoint row: at most
  ``WEBHOOK_ENDPOINT_CONCURRENCY`` deliveries of one endpoint are in flight (leased), so
  one slow endpoint holds at most that many worker processes, for at most
  ``WEBHOOK_TIMEOUT`` each, and its deliveries go out in order. The HTTP request runs
  outside any transaction. A worker killed mid-request leaves its lease to expire
  (``WEBHOOK_LEASE_SECONDS``); the sweeper then hands the delivery to another worker:
  at least once.
* Every attempt is signed afresh (Standard Webhooks: ``webhook-id`` is the event's id on
  every attempt, ``webhook-timestamp`` is now, one ``v1,`` signature per active secret)
  and logged as a ``WebhookAttempt``. A 2xx ends the delivery. Otherwise the next attempt
  is due after ``WEBHOOK_RETRY_SCHEDULE[n]`` seconds +- ``WEBHOOK_RETRY_JITTER``; after the
  last one the delivery is ``failed``. An endpoint whose attempts have all failed for
  ``WEBHOOK_DISABLE_AFTER`` seconds is disabled and the tenant's owners are emailed.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tenant_apps.audit.actions import AuditAction
from tenant_apps.integrations import destinations
from tenant_apps.integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

USER_AGENT = "Tessera-Webhooks/1"
# Retries due within this many seconds are queued with a countdown by the worker that
# failed; later ones are picked up by the sweeper (an ETA message beyond the broker's
# visibility timeout would be delivered twice, ADR 0006).
COUNTDOWN_LIMIT = 60


# Signing -------------------------------------------------------------------------------------


def active_secrets(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous one
    during the overlap after a rotation."""
    now = now or timezone.now()
    found = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(endpoint.previous_secret)
    return found


def body_of(event: WebhookEvent) -> str:
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    *, msg_id: str, body: str, secrets: list[str], at: datetime | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``, signed with the reference library."""
    at = at or timezone.now()
    signatures = " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body) for secret in secrets
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


# Dispatch ------------------------------------------------------------------------------------


def dispatch(event_id: int) -> list[int]:
    """Create the event's deliveries (once) and return the endpoint ids to send to."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            return []
        if event.dispatched_at is None:
            from tenant_apps.integrations.events import render_pending

            render_pending(event)
            now = timezone.now()
            existing = set(
                WebhookEndpoint.objects.filter(pk__in=event.endpoint_ids).values_list(
                    "pk", flat=True
                )
            )
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(event=event, endpoint_id=pk, next_attempt_at=now)
                    for pk in event.endpoint_ids
                    if pk in existing
                ],
                ignore_conflicts=True,
            )
            event.dispatched_at = now
            event.save(update_fields=["dispatched_at", "payload", "object_pk"])
    return sorted(
        WebhookDelivery.objects.filter(event_id=event_id, status=DeliveryStatus.PENDING)
        .values_list("endpoint_id", flat=True)
        .distinct()
    )


# Claim, send, record ------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint


BUSY = "busy"


def claim_next(endpoint_id: int) -> Claim | str | None:
    """Lease the oldest due delivery of the endpoint: a ``Claim``, ``BUSY`` when the
    endpoint already has its bound of deliveries in flight, or None when nothing is due."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None or not endpoint.enabled:
            return None
        pending = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
        in_flight = pending.filter(leased_until__gt=now).count()
        if in_flight >= max(1, settings.WEBHOOK_ENDPOINT_CONCURRENCY):
            return BUSY
        delivery = (
            pending.filter(next_attempt_at__lte=now)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
            .select_related("event")
            .order_by("id")
            .first()
        )
        if delivery is None:
            return None
        delivery.leased_until = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        delivery.save(update_fields=["leased_until"])
    return Claim(delivery=delivery, endpoint=endpoint)


def retry_delay(attempt: int) -> float | None:
    """Seconds before attempt ``attempt + 1`` after ``attempt`` failed ones (None: give
    up), with jitter."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempt > len(schedule):
        return None
    base = float(schedule[attempt - 1])
    jitter = settings.WEBHOOK_RETRY_JITTER
    return max(0.0, base * (1 + random.uniform(-jitter, jitter)))  # noqa: S311 - not crypto


def send(claim: Claim) -> destinations.Response:
    delivery, endpoint = claim.delivery, claim.endpoint
    body = body_of(delivery.event)
    headers = signed_headers(
        msg_id=delivery.event.public_id, body=body, secrets=active_secrets(endpoint)
    )
    return destinations.post(endpoint.url, body=body.encode(), headers=headers)


def record(claim: Claim, response: destinations.Response, started_at: datetime) -> float | None:
    """Log the attempt and move the delivery on; returns the seconds until its retry."""
    now = timezone.now()
    success = response.status_code is not None and 200 <= response.status_code < 300
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=claim.delivery.pk)
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=claim.endpoint.pk)
        delivery.attempts += 1
        delivery.last_status_code = response.status_code
        delivery.last_error = response.error
        delivery.leased_until = None
        delay: float | None = None
        if success:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since", "updated"])
        else:
            delay = retry_delay(delivery.attempts)
            if delay is None:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
            _note_failure(endpoint, now)
        delivery.save(
            update_fields=[
                "attempts",
                "last_status_code",
                "last_error",
                "leased_until",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=WebhookAttempt.objects.filter(delivery=delivery).count() + 1,
            started_at=started_at,
            duration_ms=response.duration_ms,
            status_code=response.status_code,
            error=response.error,
            response_body=response.body,
            next_retry_at=delivery.next_attempt_at,
        )
    return delay


def _note_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated"])
        return
    if (now - endpoint.failing_since).total_seconds() < settings.WEBHOOK_DISABLE_AFTER:
        return
    endpoint_disable(
        endpoint, reason=f"Every delivery failed since {endpoint.failing_since.isoformat()}."
    )


def endpoint_disable(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Disable a failing endpoint, stop its pending deliveries, email the owners."""
    from tenant_apps.audit.services import audit_record
    from tenant_apps.integrations.notifications import email_owners_endpoint_disabled

    endpoint.enabled = False
    endpoint.disabled_reason = reason[:200]
    endpoint.save(update_fields=["enabled", "disabled_reason", "updated"])
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).exclude(
        leased_until__gt=timezone.now()
    ).update(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="Endpoint disabled.")
    audit_record(
        acting_user=None,
        action=AuditAction.WEBHOOK_ENDPOINT_DISABLED,
        target=endpoint,
        changes={"reason": endpoint.disabled_reason},
    )
    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: email_owners_endpoint_disabled(endpoint_id))


def deliver_next(endpoint_id: int) -> tuple[str, float | None]:
    """Claim and send one delivery of the endpoint: ("sent"|"failed"|"busy"|"idle",
    seconds until that delivery's retry)."""
    claim = claim_next(endpoint_id)
    if claim is None:
        return "idle", None
    if claim == BUSY:
        return BUSY, None
    assert isinstance(claim, Claim)
    started_at = timezone.now()
    response = send(claim)
    delay = record(claim, response, started_at)
    ok = response.status_code is not None and 200 <= response.status_code < 300
    return ("sent" if ok else "failed"), delay


def deliver_batch(endpoint_id: int, *, limit: int, seconds: float) -> tuple[str, int, float | None]:
    """Send the endpoint's due deliveries one after another, up to ``limit`` or for
    ``seconds``. The record of each attempt and the claim of the next one share one
    transaction (one commit per delivery, not two). Returns (last outcome, attempts,
    seconds until the failed delivery's retry)."""
    started = time.monotonic()
    claim = claim_next(endpoint_id)
    attempts = 0
    while isinstance(claim, Claim):
        started_at = timezone.now()
        response = send(claim)
        attempts += 1
        ok = response.status_code is not None and 200 <= response.status_code < 300
        more = ok and attempts < limit and time.monotonic() - started < seconds
        with transaction.atomic():
            delay = record(claim, response, started_at)
            following = claim_next(endpoint_id) if more else None
        if not ok:
            return "failed", attempts, delay
        if not more:
            return "more", attempts, None
        claim = following
    return ("busy" if claim == BUSY else "idle"), attempts, None
