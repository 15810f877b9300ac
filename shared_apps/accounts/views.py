"""The one account page allauth has no view for: the owner's "MFA required" switch.

Its form is the partial ``templates/account/_mfa_requirement.html`` (the web app's
settings page includes it); this view takes its POST, and on GET shows it on a page of
its own.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from shared_apps.accounts.models import User
from shared_apps.accounts.services import tenant_mfa_requirement_set
from shared_apps.core.errors import TesseraError
from shared_apps.organizations.roles import Role
from tenants.permissions import authorize, current_membership

SETTINGS_PAGE = "/app/settings/"


@login_required
@require_http_methods(["GET", "POST"])
def mfa_requirement_view(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    is_read = request.method == "GET"
    try:
        authorize(
            tenant=tenant,
            membership=current_membership(request),
            is_read=is_read,
            needed=Role.ADMIN if is_read else Role.OWNER,
            writes_allowed_when_read_only=True,  # account security, not tenant data
        )
        if is_read:
            return render(request, "account/mfa_requirement.html")
        required = request.POST.get("mfa_required") in ("on", "true", "1")
        assert isinstance(request.user, User)  # login_required
        tenant_mfa_requirement_set(
            tenant=tenant, required=required, acting_user=request.user, request=request
        )
    except TesseraError as exc:
        return render(
            request,
            "account/mfa_requirement.html",
            {"mfa_requirement_error": exc.message},
            status=exc.http_status,
        )
    messages.success(
        request,
        "Every member now needs two-factor authentication."
        if required
        else "Two-factor authentication is now optional for members.",
    )
    return HttpResponseRedirect(request.POST.get("next") or SETTINGS_PAGE)
