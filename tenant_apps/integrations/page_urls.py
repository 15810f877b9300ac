from django.urls import path

from tenant_apps.integrations import pages

urlpatterns = [
    path("settings/api-keys/", pages.ApiKeyCreateAction.as_view(), name="api-key-create"),
    path(
        "settings/api-keys/<int:pk>/revoke/",
        pages.ApiKeyRevokeAction.as_view(),
        name="api-key-revoke",
    ),
    path(
        "settings/webhooks/",
        pages.WebhookEndpointCreateAction.as_view(),
        name="webhook-endpoint-create",
    ),
    path(
        "settings/webhooks/<int:pk>/",
        pages.WebhookEndpointPage.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "settings/webhooks/<int:pk>/deliveries/",
        pages.WebhookDeliveryLogFragment.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path(
        "settings/webhooks/<int:pk>/enabled/",
        pages.WebhookEndpointToggleAction.as_view(),
        name="webhook-endpoint-toggle",
    ),
    path(
        "settings/webhooks/<int:pk>/rotate-secret/",
        pages.WebhookEndpointRotateAction.as_view(),
        name="webhook-endpoint-rotate",
    ),
    path(
        "settings/webhooks/<int:pk>/test/",
        pages.WebhookEndpointTestAction.as_view(),
        name="webhook-endpoint-test",
    ),
    path(
        "settings/webhooks/<int:pk>/delete/",
        pages.WebhookEndpointDeleteAction.as_view(),
        name="webhook-endpoint-delete",
    ),
    path(
        "settings/webhooks/deliveries/<int:pk>/redeliver/",
        pages.WebhookDeliveryRedeliverAction.as_view(),
        name="webhook-delivery-redeliver",
    ),
]
