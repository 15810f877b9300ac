"""tenant_apps/integrations/services.py, called directly: what the serializers stop
before the service sees it (an owner key, unknown events), and each field of an
endpoint update with its audit record."""

from __future__ import annotations

import pytest
from django.utils import timezone

from shared_apps.core.errors import ValidationFailed
from shared_apps.organizations.roles import Role
from tenant_apps.audit.models import AuditEntry
from tenant_apps.integrations import services
from tenant_apps.integrations.events import EventType
from tenant_apps.integrations.models import ApiKey, WebhookEndpoint
from tests.factories import ApiKeyFactory

URL = "http://127.0.0.1:18599/hook"  # never contacted (no worker here)


def test_no_key_carries_the_owner_role(in_alpha, alpha):
    with pytest.raises(ValidationFailed) as refused:
        services.api_key_create(
            name="root", role=Role.OWNER, acting_user=alpha.user("owner"), acting_role=Role.OWNER
        )
    assert refused.value.fields == {"role": ["A key's role is admin, member or viewer."]}
    assert not ApiKey.objects.exists()


def test_a_key_is_revoked_once(in_alpha, alpha):
    key = ApiKeyFactory(admin=True)
    assert ApiKey.objects.get_from_key(key.plain_key) == key
    services.api_key_revoke(api_key=key, acting_user=alpha.user("owner"))
    with pytest.raises(services.ApiKeyRevoked):
        services.api_key_revoke(api_key=key, acting_user=alpha.user("owner"))
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.revoked is True and stored.revoked_at is not None
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


@pytest.mark.parametrize("events", [[], ["order.exploded"]], ids=["none", "unknown"])
def test_an_endpoint_needs_known_events(in_alpha, alpha, events):
    with pytest.raises(ValidationFailed) as refused:
        services.endpoint_create(url=URL, events=events, acting_user=alpha.user("owner"))
    assert set(refused.value.fields) == {"events"}
    assert not WebhookEndpoint.objects.exists()


def _updated(endpoint, data, user):
    services.endpoint_update(endpoint=endpoint, data=data, acting_user=user)
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_each_endpoint_field_updates_and_only_changes_are_audited(in_alpha, alpha):
    owner = alpha.user("owner")
    endpoint = services.endpoint_create(
        url=URL, events=[EventType.ORDER_CREATED], description="ERP", acting_user=owner
    )

    # The same values again: nothing saved, nothing audited.
    same = {"url": URL, "events": [EventType.ORDER_CREATED], "description": "ERP"}
    assert _updated(endpoint, {**same, "enabled": True}, owner).updated == endpoint.updated
    assert not AuditEntry.objects.filter(action="webhook_endpoint.updated").exists()

    changed = _updated(
        endpoint,
        {
            "url": "http://127.0.0.1:18598/other",
            "events": [EventType.PRODUCT_CREATED, EventType.ORDER_CREATED],
            "description": "ERP (new)",
        },
        owner,
    )
    assert changed.url == "http://127.0.0.1:18598/other"
    assert changed.events == sorted([EventType.PRODUCT_CREATED, EventType.ORDER_CREATED])
    assert changed.description == "ERP (new)"
    entry = AuditEntry.objects.get(action="webhook_endpoint.updated")
    assert entry.changes == {
        "url": "http://127.0.0.1:18598/other",
        "events": changed.events,
        "description": "ERP (new)",
    }


def test_re_enabling_an_endpoint_resets_its_failure_clock(in_alpha, alpha):
    owner = alpha.user("owner")
    endpoint = services.endpoint_create(
        url=URL, events=[EventType.ORDER_CREATED], acting_user=owner
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, failing_since=timezone.now(), disabled_reason="failing for 3 days"
    )
    disabled = WebhookEndpoint.objects.get(pk=endpoint.pk)

    enabled = _updated(disabled, {"enabled": True}, owner)

    assert (enabled.enabled, enabled.failing_since, enabled.disabled_reason) == (True, None, "")
    entry = AuditEntry.objects.get(action="webhook_endpoint.updated")
    assert entry.changes == {"enabled": True}

    # Disabling by hand keeps the clock as it is (nothing to reset).
    again = _updated(enabled, {"enabled": False}, owner)
    assert (again.enabled, again.failing_since) == (False, None)
