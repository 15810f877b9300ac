from rest_framework import serializers

from tenant_apps.audit.models import AuditEntry


class AuditEntryOutputSerializer(serializers.ModelSerializer):
    actor_email = serializers.EmailField(source="actor.email", default=None)
    actor_api_key_name = serializers.CharField(
        source="actor_api_key.name", default=None, allow_null=True
    )
    actor_api_key_prefix = serializers.CharField(
        source="actor_api_key.prefix", default=None, allow_null=True
    )

    support_admin_email = serializers.EmailField(
        source="support_admin.email", default=None, allow_null=True
    )
    actor_label = serializers.CharField(read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "action",
            "object_type",
            "object_id",
            "changes",
            "actor_id",
            "actor_email",
            "actor_api_key_id",
            "actor_api_key_name",
            "actor_api_key_prefix",
            "support_admin_id",
            "support_admin_email",
            "actor_label",
            "created",
        ]
