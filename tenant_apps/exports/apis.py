from django.http import FileResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound

from shared_apps.core.errors import ErrorCode
from shared_apps.core.viewsets import (
    CreateModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    TenantViewSet,
)
from tenant_apps.exports.models import Export
from tenant_apps.exports.selectors import export_file_get
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

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file (local storage)."
            ),
            302: OpenApiResponse(
                description="S3 storage: Location is a presigned URL of the file, valid "
                "STORAGE_DOWNLOAD_URL_SECONDS; fetch it without this API's credentials."
            ),
            503: OpenApiResponse(description=f"`{ErrorCode.STORAGE_UNAVAILABLE}`"),
        }
    )
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None):
        file = export_file_get(export=self.get_object())
        if file is None:
            raise NotFound("This export has no file (yet).")
        if file.redirect_url is not None:
            response = HttpResponseRedirect(file.redirect_url)
            # The URL is a credential for a few minutes: no cache may keep it.
            response["Cache-Control"] = "private, no-store"
            return response
        return FileResponse(
            file.stream, as_attachment=True, filename=file.filename, content_type=file.content_type
        )
