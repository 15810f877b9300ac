from django.urls import reverse
from rest_framework import serializers

from tenant_apps.exports.models import Export, ExportKind, ExportStatus


class ExportInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExportKind.choices, default=ExportKind.ORDERS_CSV)


class ExportOutputSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "kind",
            "status",
            "row_count",
            "error",
            "created",
            "finished",
            "download_url",
        ]

    def get_download_url(self, obj: Export) -> str | None:
        if obj.status != ExportStatus.DONE:
            return None
        path = reverse("export-download", kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
