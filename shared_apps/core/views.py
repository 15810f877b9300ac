"""Django-level error pages: JSON under /api/, the app's HTML error pages elsewhere."""

from django.http import HttpRequest, HttpResponse
from django.template import loader

from shared_apps.core.errors import ErrorCode
from shared_apps.core.exception_handler import json_error_response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/billing/stripe/")


def _html(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    # No RequestContext here: a 500 must render even when a context processor fails.
    context = {"status": status, "title": title, "message": message}
    support = getattr(request, "support_access", None)
    if support is not None:  # the support-access banner, with its working End button
        from django.middleware.csrf import get_token

        context.update(support_access=support, csrf_token=get_token(request))
    body = loader.render_to_string([f"errors/{status}.html", "errors/error.html"], context)
    return HttpResponse(body, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error_response(ErrorCode.NOT_FOUND, "Not found.", 404)
    return _html(request, 404, "Not found", "There is nothing at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return json_error_response(ErrorCode.SERVER_ERROR, "Internal server error.", 500)
    return _html(request, 500, "Server error", "Something went wrong on our side; try again.")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return json_error_response(ErrorCode.VALIDATION_ERROR, "Bad request.", 400)
    return _html(request, 400, "Bad request", "The request could not be understood.")
