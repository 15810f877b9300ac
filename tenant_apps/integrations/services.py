"""Writes of the integrations app: API keys and webhook endpoints (audited)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.entitlements import Feature, require_feature
from shared_apps.core.errors import ErrorCode, TesseraError, ValidationFailed
from shared_apps.organizations.roles import Role
from tenant_apps.audit.services import audit_record
from tenant_apps.integrations import destinations
from tenant_apps.integrations.authentication import api_key_of
from tenant_apps.integrations.events import PING, EventType, outbox_write
from tenant_apps.integrations.models import (
    ApiKey,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.context import current_tenant


class RoleAboveOwn(TesseraError):
    code = ErrorCode.ROLE_ABOVE_OWN
    http_status = 403
    message = "An API key cannot have a role above your own."


class ApiKeyRevoked(TesseraError):
    code = ErrorCode.API_KEY_REVOKED
    http_status = 409
    message = "This API key is already revoked."


# API keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    key: str  # shown once; only its hash is stored


@transaction.atomic
def api_key_create(
    *,
    name: str,
    role: str,
    expires_at: datetime | None = None,
    acting_user: Any,
    acting_role: Role,
) -> IssuedApiKey:
    """Issue a key with ``role`` (never above ``acting_role``, the creator's own).
    402 ``feature_not_in_plan`` unless the tenant's entitlements include API keys."""
    require_feature(current_tenant(), Feature.API_KEYS)
    wanted = Role(role)
    if wanted == Role.OWNER:
        raise ValidationFailed(fields={"role": ["A key's role is admin, member or viewer."]})
    if wanted.rank > Role(acting_role).rank:
        raise RoleAboveOwn(fields={"role": [RoleAboveOwn.message]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(fields={"expires_at": ["The expiry must be in the future."]})
    creator_key = api_key_of(acting_user)
    created, key = ApiKey.objects.create_key(
        name=name,
        role=wanted.value,
        expiry_date=expires_at,
        created_by=None if creator_key is not None else acting_user,
        created_by_key=creator_key,
    )
    assert isinstance(created, ApiKey)
    api_key = created
    audit_record(
        actor=acting_user,
        action="api_key.created",
        target=api_key,
        changes={"name": name, "role": wanted.value, "prefix": api_key.prefix},
    )
    return IssuedApiKey(api_key=api_key, key=key)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, acting_user: Any) -> ApiKey:
    """Revoke a key for good (the row stays, for the audit trail). Idempotent: a second
    revoke of the same key is a 409."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked:
        raise ApiKeyRevoked()
    api_key.revoked = True
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked", "revoked_at"])
    audit_record(
        actor=acting_user,
        action="api_key.revoked",
        target=api_key,
        changes={"name": api_key.name, "prefix": api_key.prefix},
    )
    return api_key


# Webhook endpoints ---------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _checked_url(url: str) -> str:
    try:
        destinations.check_url(url)
    except destinations.DestinationRefused as exc:
        raise ValidationFailed(fields={"url": [str(exc)]}) from exc
    return url


def _checked_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EventType.values))
    if unknown or not events:
        raise ValidationFailed(fields={"events": [f"Choose from: {', '.join(EventType.values)}."]})
    return sorted(set(events))


@transaction.atomic
def endpoint_create(
    *,
    url: str,
    events: list[str],
    description: str = "",
    enabled: bool = True,
    acting_user: Any,
) -> WebhookEndpoint:
    require_feature(current_tenant(), Feature.WEBHOOKS)
    endpoint = WebhookEndpoint(
        url=_checked_url(url),
        events=_checked_events(events),
        description=description,
        enabled=enabled,
        secret=new_secret(),
    )
    endpoint.full_clean()
    endpoint.save()
    audit_record(
        actor=acting_user,
        action="webhook_endpoint.created",
        target=endpoint,
        changes={"url": url, "events": endpoint.events, "enabled": enabled},
    )
    return endpoint


@transaction.atomic
def endpoint_update(
    *, endpoint: WebhookEndpoint, data: dict[str, Any], acting_user: Any
) -> WebhookEndpoint:
    require_feature(current_tenant(), Feature.WEBHOOKS)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed: dict[str, Any] = {}
    if "url" in data and data["url"] != endpoint.url:
        endpoint.url = changed["url"] = _checked_url(data["url"])
    if "events" in data:
        events = _checked_events(data["events"])
        if events != endpoint.events:
            endpoint.events = changed["events"] = events
    if "description" in data and data["description"] != endpoint.description:
        endpoint.description = changed["description"] = data["description"]
    if "enabled" in data and data["enabled"] != endpoint.enabled:
        endpoint.enabled = changed["enabled"] = data["enabled"]
        if endpoint.enabled:  # a fresh start: the failure clock and reason are reset
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
    if changed:
        endpoint.full_clean()
        endpoint.save()
        audit_record(
            actor=acting_user, action="webhook_endpoint.updated", target=endpoint, changes=changed
        )
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, acting_user: Any) -> None:
    pk, url = endpoint.pk, endpoint.url
    endpoint.delete()
    audit_record(
        actor=acting_user,
        action="webhook_endpoint.deleted",
        object_type="integrations.webhookendpoint",
        object_id=pk,
        changes={"url": url},
    )


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, acting_user: Any) -> WebhookEndpoint:
    """A new secret; the old one keeps signing deliveries (next to the new one) for
    ``WEBHOOK_SECRET_OVERLAP_SECONDS`` (24 h) so receivers can switch without a gap."""
    require_feature(current_tenant(), Feature.WEBHOOKS)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.WEBHOOK_SECRET_OVERLAP_SECONDS
    )
    endpoint.secret = new_secret()
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated"]
    )
    audit_record(actor=acting_user, action="webhook_endpoint.secret_rotated", target=endpoint)
    return endpoint


@transaction.atomic
def endpoint_ping(*, endpoint: WebhookEndpoint, acting_user: Any) -> Any:
    """Queue a ``ping`` event for this endpoint only (through the same outbox)."""
    tenant = current_tenant()
    require_feature(tenant, Feature.WEBHOOKS)
    event = outbox_write(
        event_type=PING,
        data={"endpoint": endpoint.pk, "url": endpoint.url, "message": "Hello from Tessera."},
        endpoint_ids=[endpoint.pk],
        tenant=tenant,
    )
    audit_record(
        actor=acting_user,
        action="webhook_endpoint.tested",
        target=endpoint,
        changes={"event": event.public_id},
    )
    return event


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery, acting_user: Any) -> WebhookDelivery:
    """Send a delivery again now (same ``webhook-id``), whatever became of it; a fresh
    retry schedule starts with it."""
    from tenant_apps.integrations.tasks import deliver_webhooks

    require_feature(current_tenant(), Feature.WEBHOOKS)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.attempts = 0
    delivery.save(update_fields=["status", "next_attempt_at", "attempts"])
    audit_record(
        actor=acting_user,
        action="webhook_delivery.redelivered",
        target=delivery,
        changes={"event": delivery.event.public_id, "endpoint": delivery.endpoint_id},
    )
    endpoint_id = delivery.endpoint_id
    transaction.on_commit(lambda: deliver_webhooks.delay(endpoint_id))
    return delivery
