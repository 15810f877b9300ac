from rest_framework.routers import SimpleRouter

from tenant_apps.integrations.apis import (
    ApiKeyViewSet,
    WebhookDeliveryViewSet,
    WebhookEndpointViewSet,
)

router = SimpleRouter(use_regex_path=False)
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("webhooks/endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhooks/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
urlpatterns = router.urls
