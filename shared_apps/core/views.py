"""Django-level error pages: JSON under /api/, plain HTML elsewhere."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError
from django.views.generic import RedirectView

from shared_apps.core.errors import ErrorCode
from shared_apps.core.exception_handler import json_error_response
from tenants.permissions import TenantGate


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/billing/stripe/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error_response(ErrorCode.NOT_FOUND, "Not found.", 404)
    return HttpResponseNotFound("<h1>Not found</h1>")


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return json_error_response(ErrorCode.SERVER_ERROR, "Internal server error.", 500)
    return HttpResponseServerError("<h1>Server error</h1>")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error_response(ErrorCode.VALIDATION_ERROR, "Bad request.", 400)
    return HttpResponse("<h1>Bad request</h1>", status=400)


class FrontDoorView(TenantGate, RedirectView):
    """A tenant host's ``/``: the API documentation."""

    dangerously_public = "a redirect; it shows nothing"
    url = "/api/v1/docs/"
    permanent = False
