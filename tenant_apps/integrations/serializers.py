from rest_framework import serializers

from tenant_apps.integrations.events import EventType
from tenant_apps.integrations.models import (
    ApiKey,
    ApiKeyRole,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# API keys ------------------------------------------------------------------------------------


class ApiKeyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    role = serializers.ChoiceField(choices=ApiKeyRole.choices)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    expires_at = serializers.DateTimeField(source="expiry_date", allow_null=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "role",
            "created",
            "expires_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        ]


class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
    key = serializers.CharField(help_text="The key itself: shown in this answer only.")

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = [*ApiKeyOutputSerializer.Meta.fields, "key"]


# Webhook endpoints -------------------------------------------------------------------------


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), allow_empty=False, max_length=20
    )
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "enabled",
            "disabled_reason",
            "failing_since",
            "created",
            "updated",
        ]


class WebhookEndpointSecretSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(
        help_text="whsec_...: shown on creation and after rotate-secret/ only."
    )

    class Meta(WebhookEndpointOutputSerializer.Meta):
        fields = [*WebhookEndpointOutputSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "started_at",
            "status_code",
            "duration_ms",
            "error",
            "response_body",
            "next_retry_at",
        ]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event.public_id", help_text="The webhook-id")
    event_type = serializers.CharField(source="event.type")
    attempt_count = serializers.IntegerField(source="attempts")
    attempts = WebhookAttemptSerializer(source="attempt_log", many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_type",
            "endpoint",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created",
            "attempts",
        ]


class PingSerializer(serializers.Serializer):
    event = serializers.CharField(help_text="The id (webhook-id) of the ping event queued")
