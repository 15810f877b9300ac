"""The tenant host's side of support access (ADR 0024): redeem the admin's hand-off,
end the session, the "ended" page, and the owners' switch."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.utils import timezone

from shared_apps.core.errors import InvalidToken, TesseraError
from shared_apps.core.pages import TenantPageView, error_page
from shared_apps.organizations.roles import Role
from shared_apps.support.middleware import ENDED_PATH, SUPPORT_SESSION_KEY, sign_out_here
from shared_apps.support.models import SupportSession
from shared_apps.support.services import (
    EndReason,
    support_access_end_by_uuid,
    support_access_redeem,
    support_handoff_peek,
    support_policy_set,
)
from tenants.selectors import tenant_url

MAX_TOKEN_LENGTH = 512
SESSION_GRACE_SECONDS = 300


def admin_url(request: HttpRequest, path: str = "") -> str:
    """The platform admin on the root domain (same scheme and port as this request)."""
    return tenant_url(host=settings.ROOT_DOMAIN, request=request) + settings.DJANGO_ADMIN_URL + path


def attach_support_session(request: HttpRequest, session: SupportSession) -> None:
    """A fresh session on this host as the member, marked as support access, living no
    longer than the support session. Written by hand rather than with ``login()``: the
    member did not sign in (no ``user_logged_in``, no ``last_login`` change, which would
    also void their pending password-reset links)."""
    member = session.member
    assert member is not None  # redeeming checked the member
    request.session.flush()  # whatever was signed in on this browser before
    request.session[SESSION_KEY] = member._meta.pk.value_to_string(member)
    request.session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    request.session[HASH_SESSION_KEY] = member.get_session_auth_hash()
    request.session[SUPPORT_SESSION_KEY] = str(session.uuid)
    # A little past the bound: the middleware, not the session store, ends it (so the end
    # is recorded and the browser is told).
    remaining = int((session.expires_at - timezone.now()).total_seconds())
    request.session.set_expiry(max(remaining, 0) + SESSION_GRACE_SECONDS)
    request.user = member
    rotate_token(request)


def _token(request: HttpRequest) -> str:
    token = (request.POST.get("token") or request.GET.get("token") or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken()
    return token


class SupportRedeemPage(TenantPageView):
    """The link the admin is sent to: GET shows who and for how long, POST starts it."""

    dangerously_public = (
        "the platform admin arrives from the root domain with no session here; the "
        "single-use signed hand-off token, bound to this tenant, is the proof"
    )
    template_name = "support/redeem.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        session = support_handoff_peek(tenant=self.tenant, token=_token(request))
        return self.render_page(handoff=session, token=_token(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        session = support_access_redeem(tenant=self.tenant, token=_token(request))
        attach_support_session(request, session)
        return HttpResponseRedirect("/")

    def get_context_data(self, **kwargs):
        # Nobody is a member here yet: only what the page needs.
        return {"tenant": self.tenant, **kwargs}


class SupportEndAction(TenantPageView):
    """The banner's "End support access" button: ends it, signs out here, back to the
    admin's page of the tenant."""

    read_role = Role.VIEWER
    write_role = Role.VIEWER
    writes_allowed_when_read_only = True
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        support = getattr(request, "support_access", None)
        if support is None:
            return HttpResponseRedirect("/")
        support_access_end_by_uuid(
            tenant=self.tenant, session_uuid=support.uuid, reason=EndReason.ENDED
        )
        sign_out_here(request)
        # Not a redirect to the root domain: CSP's form-action ('self') covers redirects.
        return HttpResponseRedirect(f"{ENDED_PATH}?by=admin")


class SupportEndedPage(TenantPageView):
    dangerously_public = "shown after a support session ended and was signed out"
    template_name = "support/ended.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(
            by_admin=request.GET.get("by") == "admin",
            admin_support_url=admin_url(request, f"tenants/tenant/{self.tenant.pk}/support/"),
        )

    def get_context_data(self, **kwargs):
        return {"tenant": self.tenant, **kwargs}


class SupportPolicyAction(TenantPageView):
    """The owners' switch on the settings page (allowed while suspended: account security,
    not tenant data)."""

    read_role = Role.OWNER
    write_role = Role.OWNER
    writes_allowed_when_read_only = True
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        allowed = request.POST.get("support_access_allowed") in ("on", "true", "1")
        try:
            support_policy_set(tenant=self.tenant, allowed=allowed, acting_user=request.user)
        except TesseraError as exc:
            return error_page(request, exc)
        messages.success(
            request,
            "Platform support may now sign in as a member for a limited time."
            if allowed
            else "Support access is off: platform admins cannot sign in as your members.",
        )
        return HttpResponseRedirect("/app/settings/")
