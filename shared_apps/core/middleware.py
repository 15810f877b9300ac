from __future__ import annotations

import http.client as http_client

from csp import constants as csp_constants
from csp import middleware as csp_middleware
from csp import utils as csp_utils
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

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


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's middleware, with the header built once instead of on every response.

    django-csp rebuilds the policy string from the settings for every response (a
    dataclass copy and a walk over every directive, 3 % of an API list request). When a
    response and its request carry nothing that changes the policy (no
    ``@csp_update``/``@csp_replace``/``@csp_exempt``-style attributes, no nonce used),
    the policy is the settings' one: built once and kept until the settings change.
    Anything else goes through django-csp's own ``process_response`` untouched.
    """

    _RESPONSE_PARTS = (
        "_csp_config",
        "_csp_update",
        "_csp_replace",
        "_csp_config_ro",
        "_csp_update_ro",
        "_csp_replace_ro",
    )
    _policies: tuple[str, str] | None = None

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        response_dict = response.__dict__
        if getattr(request, "_csp_nonce", None) is not None or any(
            name in response_dict for name in self._RESPONSE_PARTS
        ):
            return super().process_response(request, response)
        policies = CSPMiddleware._policies
        if policies is None:
            policies = CSPMiddleware._policies = (
                csp_utils.build_policy(),
                csp_utils.build_policy(report_only=True),
            )
        # The rest exactly as django-csp does it.
        if response.status_code in _CSP_DEBUG_EXEMPT and settings.DEBUG:
            return response
        for header, value, exempt, setting in (
            (csp_constants.HEADER, policies[0], "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (
                csp_constants.HEADER_REPORT_ONLY,
                policies[1],
                "_csp_exempt_ro",
                "CONTENT_SECURITY_POLICY_REPORT_ONLY",
            ),
        ):
            if not value:
                continue
            policy = getattr(settings, setting, None) or {}
            prefixes = policy.get("EXCLUDE_URL_PREFIXES", None) or ()
            if (
                header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(tuple(prefixes))
            ):
                response[header] = value
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = csp_middleware.CheckableLazyObject(  # type: ignore[attr-defined]
                self._csp_nonce_post_response
            )
        return response


_CSP_DEBUG_EXEMPT = (http_client.INTERNAL_SERVER_ERROR, http_client.NOT_FOUND)


@receiver(setting_changed)
def _forget_csp_policies(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        CSPMiddleware._policies = None
