"""The one place a request's tenant is decided."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.urls import set_urlconf

from shared_apps.core.errors import ErrorCode, error_body
from tenants.resolution import normalise_host, resolver


class TenantRoutingMiddleware:
    """Resolve the Host header to a tenant (or the public site) and route the request.

    Sets ``request.tenant`` (None on the public host), ``request.is_public_host`` and
    the URLconf. An unknown or malformed host gets a 404 here, before any view runs:
    JSON under ``/api/``, plain HTML elsewhere; never the public site, never a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = normalise_host(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""))
        route = resolver.route(host)
        if not route.found:
            return self._not_found(request)

        request.tenant = route.tenant  # type: ignore[attr-defined]
        request.is_public_host = route.is_public  # type: ignore[attr-defined]
        if route.is_public:
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
        return self.get_response(request)

    @staticmethod
    def _not_found(request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                error_body(ErrorCode.UNKNOWN_HOST, "No tenant is served at this host."),
                status=404,
            )
        return HttpResponseNotFound("<h1>Not found</h1><p>No tenant is served at this host.</p>")
