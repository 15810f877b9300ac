"""A tenant's data, out and gone: the export archive and the organisation's deletion."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseRedirect
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from shared_apps.core.errors import ErrorCode
from shared_apps.core.viewsets import RetrieveModelMixin, TenantAPIView, TenantViewSet
from shared_apps.organizations.roles import Role
from tenants.data.models import DataExportStatus
from tenants.data.selectors import data_export_list, deletion_open
from tenants.data.serializers import (
    DataExportOutputSerializer,
    DeletionInputSerializer,
    DeletionOutputSerializer,
)
from tenants.data.services import data_export_request, deletion_cancel, deletion_schedule
from tenants.storage import download_url, is_tenant_path, store_errors

ZIP = "application/zip"
NO_ARCHIVE = "This export has no archive: it is not finished, failed or expired."


class OrganizationExportViewSet(RetrieveModelMixin, TenantViewSet):
    """Owners request a full export; every member can follow it and download it."""

    output_serializer_class = DataExportOutputSerializer
    action_roles = {"create": Role.OWNER}
    # A suspended or canceled organisation can still take its data out.
    writes_allowed_when_read_only = True
    filter_backends: list = []

    def select(self):
        return data_export_list(tenant=self.tenant)

    @extend_schema(request=None, responses={202: DataExportOutputSerializer})
    def create(self, request, *args, **kwargs):
        export = data_export_request(tenant=self.tenant, acting_user=self.acting_user)
        return self.render(export, status_code=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, ZIP): OpenApiResponse(OpenApiTypes.BINARY, description="The archive (local)."),
            302: OpenApiResponse(
                description="S3 storage: Location is a presigned URL of the archive, valid "
                "STORAGE_DOWNLOAD_URL_SECONDS; fetch it without this API's credentials."
            ),
            503: OpenApiResponse(description=f"`{ErrorCode.STORAGE_UNAVAILABLE}`"),
        }
    )
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None):
        export = self.get_object()
        if export.status != DataExportStatus.DONE or not is_tenant_path(export.file_path):
            raise NotFound(NO_ARCHIVE)
        filename = f"{self.tenant.subdomain}-data-{export.created:%Y%m%d-%H%M%S}.zip"
        with store_errors("reading a data export"):
            if not default_storage.exists(export.file_path):
                raise NotFound(NO_ARCHIVE)
            url = download_url(export.file_path, filename=filename, content_type=ZIP)
            if url is not None:
                response = HttpResponseRedirect(url)
                response["Cache-Control"] = "private, no-store"  # the URL is a credential
                return response
            try:
                stream = default_storage.open(export.file_path, "rb")
            except FileNotFoundError as exc:
                raise NotFound(NO_ARCHIVE) from exc
        return FileResponse(stream, as_attachment=True, filename=filename, content_type=ZIP)


class OrganizationDeletionApi(TenantAPIView):
    """GET the schedule (members); POST schedules, DELETE cancels (owners)."""

    write_role = Role.OWNER
    writes_allowed_when_read_only = True

    def _render(self, request_row, *, status_code: int = status.HTTP_200_OK) -> Response:
        data = DeletionOutputSerializer.of(request_row, now=timezone.now())
        return Response(DeletionOutputSerializer(data).data, status=status_code)

    @extend_schema(responses={200: DeletionOutputSerializer})
    def get(self, request):
        return self._render(deletion_open(tenant=self.tenant))

    @extend_schema(request=DeletionInputSerializer, responses={202: DeletionOutputSerializer})
    def post(self, request):
        serializer = DeletionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scheduled = deletion_schedule(
            tenant=self.tenant,
            confirm=serializer.validated_data["confirm"],
            acting_user=self.acting_user,
        )
        return self._render(scheduled, status_code=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: DeletionOutputSerializer})
    def delete(self, request):
        deletion_cancel(tenant=self.tenant, acting_user=self.acting_user)
        return self._render(None)
