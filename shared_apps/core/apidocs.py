"""The API schema and documentation pages of a tenant host (kept apart from ``openapi``,
which drf-spectacular's views import: importing them back from there would be circular)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from shared_apps.core.viewsets import TenantAPIView

_PUBLIC_REASON = "describes the API; it holds no tenant data"


class SchemaApi(TenantAPIView, SpectacularAPIView):
    """The OpenAPI 3 schema."""

    dangerously_public = _PUBLIC_REASON
    authentication_classes: list = []


class SwaggerDocsView(TenantAPIView, SpectacularSwaggerSplitView):
    """Swagger UI from drf-spectacular-sidecar (no CDN). The split view serves its init
    script from a URL, so the page needs no inline script under the CSP. An HTML page: no
    OPTIONS (DRF's metadata would be rendered with the page template)."""

    dangerously_public = _PUBLIC_REASON
    authentication_classes: list = []
    http_method_names = ["get", "head"]
