from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound

from shared_apps.core.viewsets import (
    CreateModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    TenantViewSet,
)
from tenant_apps.exports.models import Export, ExportStatus
from tenant_apps.exports.serializers import ExportInputSerializer, ExportOutputSerializer
from tenant_apps.exports.services import export_request


class ExportViewSet(ListModelMixin, RetrieveModelMixin, CreateModelMixin, TenantViewSet):
    output_serializer_class = ExportOutputSerializer
    input_serializer_class = ExportInputSerializer
    filter_backends: list = []
    ordering = ["-created"]

    def select(self):
        return Export.objects.all()

    @extend_schema(request=ExportInputSerializer, responses={202: ExportOutputSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated(ExportInputSerializer)
        export = export_request(kind=data["kind"], acting_user=request.user)
        return self.render(export, status_code=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None):
        export = self.get_object()
        if export.status != ExportStatus.DONE or not default_storage.exists(export.file_path):
            raise NotFound("This export has no file (yet).")
        return FileResponse(
            default_storage.open(export.file_path, "rb"),
            as_attachment=True,
            filename=f"{export.kind}-{export.created:%Y%m%d-%H%M%S}.csv",
            content_type="text/csv",
        )
