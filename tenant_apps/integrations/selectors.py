from django.db.models import QuerySet

from billing.entitlements import Feature, feature_usage_counter
from tenant_apps.integrations.models import ApiKey, WebhookDelivery, WebhookEndpoint, WebhookEvent


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.all()


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all()


def delivery_list(*, endpoint: WebhookEndpoint | None = None) -> QuerySet[WebhookDelivery]:
    queryset = WebhookDelivery.objects.select_related("event").prefetch_related("attempt_log")
    if endpoint is not None:
        queryset = queryset.filter(endpoint=endpoint)
    return queryset


def endpoint_awaits_dispatch(*, endpoint: WebhookEndpoint) -> bool:
    """Whether an event for ``endpoint`` is committed but has no deliveries yet (its
    dispatch is queued): the delivery log keeps refreshing until it appears."""
    return WebhookEvent.objects.filter(
        dispatched_at__isnull=True, endpoint_ids__contains=[endpoint.pk]
    ).exists()


@feature_usage_counter(Feature.API_KEYS)
def active_api_key_count() -> int:
    return ApiKey.objects.filter(revoked_at__isnull=True).count()


@feature_usage_counter(Feature.WEBHOOKS)
def endpoint_count() -> int:
    return WebhookEndpoint.objects.count()
