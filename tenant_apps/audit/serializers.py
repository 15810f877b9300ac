from rest_framework import serializers

from tenant_apps.audit.models import AuditEntry


class AuditEntryOutputSerializer(serializers.ModelSerializer):
    actor_email = serializers.EmailField(source="actor.email", default=None)

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
            "created",
        ]
