from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from tenants.data.models import DataExport, DataExportStatus, TenantDeletionRequest


class DataExportOutputSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DataExport
        fields = [
            "id",
            "status",
            "created",
            "finished",
            "expires_at",
            "size_bytes",
            "table_count",
            "row_count",
            "error",
            "download_url",
        ]

    def get_download_url(self, obj: DataExport) -> str | None:
        if obj.status != DataExportStatus.DONE:
            return None
        path = reverse("organization-export-download", kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class DeletionInputSerializer(serializers.Serializer):
    confirm = serializers.CharField(max_length=100, help_text="The organisation's subdomain")


class DeletionOutputSerializer(serializers.Serializer):
    """The open deletion schedule, or nulls when there is none."""

    scheduled = serializers.BooleanField()
    status = serializers.CharField(allow_null=True)
    scheduled_for = serializers.DateTimeField(allow_null=True)
    requested_at = serializers.DateTimeField(allow_null=True)
    requested_by = serializers.EmailField(allow_null=True)
    grace_period_over = serializers.BooleanField()

    @staticmethod
    def of(request: TenantDeletionRequest | None, *, now) -> dict:
        if request is None:
            return {
                "scheduled": False,
                "status": None,
                "scheduled_for": None,
                "requested_at": None,
                "requested_by": None,
                "grace_period_over": False,
            }
        return {
            "scheduled": True,
            "status": request.status,
            "scheduled_for": request.scheduled_for,
            "requested_at": request.requested_at,
            "requested_by": request.requested_by_email or None,
            "grace_period_over": request.scheduled_for <= now,
        }
