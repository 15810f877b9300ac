"""tenant_apps/integrations/selectors.py: keys, deliveries, and whether an endpoint
still waits for the dispatch of a committed event."""

from __future__ import annotations

from django.utils import timezone

from tenant_apps.integrations.selectors import (
    api_key_list,
    delivery_list,
    endpoint_awaits_dispatch,
    endpoint_list,
)
from tests.factories import (
    ApiKeyFactory,
    OutboxEventFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)


def test_an_endpoint_awaits_dispatch_only_of_its_own_undispatched_events(in_alpha):
    endpoint, other = WebhookEndpointFactory(), WebhookEndpointFactory()
    assert endpoint_awaits_dispatch(endpoint=endpoint) is False
    OutboxEventFactory(endpoint_ids=[other.pk])  # another endpoint's
    OutboxEventFactory(endpoint_ids=[endpoint.pk], dispatched_at=timezone.now())  # done
    assert endpoint_awaits_dispatch(endpoint=endpoint) is False
    OutboxEventFactory(endpoint_ids=[other.pk, endpoint.pk])
    assert endpoint_awaits_dispatch(endpoint=endpoint) is True


def test_deliveries_of_one_endpoint_or_all(in_alpha):
    mine = WebhookDeliveryFactory(succeeded=True)
    theirs = WebhookDeliveryFactory(failed=True)
    assert list(delivery_list(endpoint=mine.endpoint)) == [mine]
    assert set(delivery_list()) == {mine, theirs}


def test_keys_and_endpoints_are_the_schemas_own_newest_first(in_alpha):
    old_key, new_key = ApiKeyFactory(), ApiKeyFactory(viewer=True)
    assert list(api_key_list()) == [new_key, old_key]
    old, new = WebhookEndpointFactory(), WebhookEndpointFactory(disabled=True)
    assert list(endpoint_list()) == [new, old]
