"""Support access on the tenant's host: who is really there, and what they may not do.

Right after Django's authentication middleware. For a session marked as support access
(``SUPPORT_SESSION_KEY``, written only by the redeem page), on every request:

* the ``SupportSession`` row is re-read: ended, expired (``SUPPORT_ACCESS_MINUTES``), the
  tenant's switch off, the admin without the permission, the member gone — the session
  is signed out on this host: HTML pages are sent to ``/support/ended/``, the API answers
  401 ``support_access_ended``;
* ``request.support_access`` (a ``SupportContext``) names the admin for the banner, the
  log lines (``shared_apps.core.observability``), Sentry and the audit log;
* the member's own credentials — password, email, MFA, API keys, tokens — and the
  webhook secret rotation answer 403 ``support_not_allowed``, whatever the method;
* every unsafe method answers 403 ``support_read_only`` unless the session allows
  writes, except ending the session (``/support/end/``, signing out); allowed writes
  are recorded in the tenant's audit log (``support.write``).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from shared_apps.core import context as shared_context
from shared_apps.core.errors import (
    SupportAccessEnded,
    SupportNotAllowed,
    SupportReadOnly,
    TesseraError,
    error_body,
)
from tenants.context import current_tenant_or_none

SUPPORT_SESSION_KEY = "_tessera_support_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
END_PATH = "/support/end/"
ENDED_PATH = "/support/ended/"
# Signing out ends support access (and is allowed while read-only).
SIGN_OUT = frozenset({("POST", "/accounts/logout/"), ("DELETE", "/api/v1/auth/session/")})
# The member's own credentials: never during support access, whatever the method.
FORBIDDEN_PREFIXES = (
    "/accounts/password/",
    "/accounts/email/",
    "/accounts/mfa/",
    "/accounts/reauthenticate/",
    "/accounts/confirm-email/",
    "/api/v1/me/mfa/",
    "/api/v1/api-keys/",
    "/api/v1/auth/token/",
    "/api/v1/auth/password/",
    "/app/settings/api-keys/",
)
FORBIDDEN_EXACT = frozenset({("POST", "/api/v1/auth/session/")})  # a login over it
# Endpoints that reveal a signing secret (webhook endpoints, web and API).
FORBIDDEN_SUFFIXES = ("/rotate-secret/",)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def refusal(request: HttpRequest, exc: TesseraError) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(error_body(exc.code, exc.message), status=exc.http_status)
    from shared_apps.core.pages import error_page

    return error_page(request, exc)


def sign_out_here(request: HttpRequest) -> None:
    """End the browser's session on this host without the login signals (the member did
    not sign out; nothing of theirs changes)."""
    request.session.flush()
    request.user = AnonymousUser()


class SupportAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = current_tenant_or_none()
        session = getattr(request, "session", None)
        marker = session.get(SUPPORT_SESSION_KEY) if session is not None and tenant else None
        if not marker:
            return self.get_response(request)
        from django.contrib.auth import SESSION_KEY

        from shared_apps.support.services import support_session_check

        assert tenant is not None and session is not None
        try:
            support, member = support_session_check(
                tenant=tenant, session_uuid=marker, user_id=session.get(SESSION_KEY)
            )
        except SupportAccessEnded as exc:
            sign_out_here(request)
            if wants_json(request):
                return refusal(request, exc)
            return HttpResponseRedirect(ENDED_PATH)
        request.support_access = support  # type: ignore[attr-defined]
        request.user = member  # already loaded; and every log line can name it
        token = shared_context.support_admin_id.set(support.admin_id)
        try:
            return self._within(request, support)
        finally:
            shared_context.support_admin_id.reset(token)

    def _within(self, request: HttpRequest, support) -> HttpResponse:
        from shared_apps.support.services import (
            EndReason,
            support_access_end_by_uuid,
            support_write_record,
        )

        method, path = request.method or "GET", request.path
        if (
            path.startswith(FORBIDDEN_PREFIXES)
            or path.endswith(FORBIDDEN_SUFFIXES)
            or (method, path) in FORBIDDEN_EXACT
        ):
            return refusal(request, SupportNotAllowed())
        if (method, path) in SIGN_OUT:
            tenant = current_tenant_or_none()
            assert tenant is not None  # only support sessions of a tenant host get here
            support_access_end_by_uuid(
                tenant=tenant, session_uuid=support.uuid, reason=EndReason.LOGOUT
            )
            return self.get_response(request)
        if method in SAFE_METHODS or path == END_PATH:
            return self.get_response(request)
        if not support.allow_writes:
            return refusal(request, SupportReadOnly())
        response = self.get_response(request)
        support_write_record(support=support, method=method, path=path, status=response.status_code)
        return response
