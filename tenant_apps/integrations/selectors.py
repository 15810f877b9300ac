from django.db.models import QuerySet

from billing.entitlements import Feature, feature_usage_counter
from tenant_apps.integrations.models import ApiKey, WebhookDelivery, WebhookEndpoint


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.all()


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all()


def delivery_list(*, endpoint: WebhookEndpoint | None = None) -> QuerySet[WebhookDelivery]:
    queryset = WebhookDelivery.objects.select_related("event").prefetch_related("attempt_log")
    if endpoint is not None:
        queryset = queryset.filter(endpoint=endpoint)
    return queryset


@feature_usage_counter(Feature.API_KEYS)
def active_api_key_count() -> int:
    return ApiKey.objects.filter(revoked_at__isnull=True).count()


@feature_usage_counter(Feature.WEBHOOKS)
def endpoint_count() -> int:
    return WebhookEndpoint.objects.count()
