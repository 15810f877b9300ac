from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from shared_apps.core.health import readiness


class HealthCheckMiddleware:
    """``/healthz`` and ``/readyz`` on every host, answered before tenant resolution.

    ``/healthz`` touches no I/O at all; ``/readyz`` checks PostgreSQL (and unapplied
    public migrations) and Redis, and answers 503 naming what is not ready.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path == "/healthz":
            return JsonResponse({"status": "ok"})
        if path == "/readyz":
            checks = readiness()
            ready = all(value == "ok" for value in checks.values())
            return JsonResponse(
                {"status": "ok" if ready else "unavailable", "checks": checks},
                status=200 if ready else 503,
            )
        return self.get_response(request)
