"""The one account page allauth has no view for: the owner's "MFA required" switch.

Its form is the partial ``templates/account/_mfa_requirement.html`` (the web app's
settings page includes it); this view takes its POST, and on GET shows it on a page of
its own.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from shared_apps.accounts.models import User
from shared_apps.accounts.services import tenant_mfa_requirement_set
from shared_apps.core.errors import TesseraError
from shared_apps.core.pages import TenantPageView
from shared_apps.organizations.roles import Role

SETTINGS_PAGE = "/app/settings/"


class MfaRequirementPage(TenantPageView):
    """Admins see the switch; only an owner changes it (allowed while suspended: account
    security, not tenant data)."""

    read_role = Role.ADMIN
    write_role = Role.OWNER
    writes_allowed_when_read_only = True
    template_name = "account/mfa_requirement.html"
    http_method_names = ["get", "post", "head", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        required = request.POST.get("mfa_required") in ("on", "true", "1")
        assert isinstance(request.user, User)  # the gate let only members through
        try:
            tenant_mfa_requirement_set(
                tenant=self.tenant, required=required, acting_user=request.user, request=request
            )
        except TesseraError as exc:
            return self.render_page(status=exc.http_status, mfa_requirement_error=exc.message)
        messages.success(
            request,
            "Every member now needs two-factor authentication."
            if required
            else "Two-factor authentication is now optional for members.",
        )
        return HttpResponseRedirect(_safe_next(request))


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or SETTINGS_PAGE
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return SETTINGS_PAGE
