"""The API documentation page (kept apart from ``openapi``, which drf-spectacular's
views import: importing them back from there would be circular)."""

from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from drf-spectacular-sidecar (no CDN). The split view serves its init
    script from a URL, so the page needs no inline script under the CSP. An HTML page: no
    OPTIONS (DRF's metadata would be rendered with the page template)."""

    http_method_names = ["get", "head"]
