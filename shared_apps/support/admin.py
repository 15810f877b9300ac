"""The platform admin's side of support access (root domain, ADR 0024): the start form
on a tenant's admin page, and the read-only list of every support session."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django_tenants.utils import tenant_context

from shared_apps.core.errors import TesseraError
from shared_apps.organizations.models import OrganizationUser
from shared_apps.support.models import SupportSession
from shared_apps.support.services import (
    admin_may_support,
    support_access_start,
    support_sessions_close_overdue,
)
from tenants.models import Tenant
from tenants.selectors import tenant_primary_host, tenant_url

HISTORY_ROWS = 20


class SupportStartForm(forms.Form):
    member = forms.TypedChoiceField(coerce=int, label="Act as")
    allow_writes = forms.BooleanField(
        required=False,
        label="Allow writes",
        help_text="Read-only unless ticked; ticking it needs a reason, kept in the audit log.",
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text="Why (the customer's request, the ticket). Required to allow writes.",
    )

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        rows = (
            OrganizationUser.objects.for_tenant(tenant)
            .filter(user__is_active=True)
            .select_related("user")
            .order_by("user__email")
        )
        self.fields["member"].choices = [  # type: ignore[attr-defined]
            (
                row.user_id,
                f"{row.user.email} ({row.get_role_display().lower()})"
                + (" — platform admin, not allowed" if row.user.is_staff else ""),
            )
            for row in rows
        ]


def _history(tenant: Tenant) -> tuple[list[SupportSession], list]:
    from tenant_apps.audit.models import AuditEntry

    support_sessions_close_overdue(tenant=tenant)
    sessions = list(SupportSession.objects.for_tenant(tenant)[:HISTORY_ROWS])
    with tenant_context(tenant):
        entries = list(
            AuditEntry.objects.filter(action__startswith="support.")
            .select_related("actor", "support_admin")
            .order_by("-created", "-id")[:HISTORY_ROWS]
        )
    return sessions, entries


def support_start_view(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str):
    """``admin/tenants/tenant/<id>/support/``: the form, and the hand-off to the tenant."""
    tenant = get_object_or_404(Tenant, pk=object_id)
    form = SupportStartForm(request.POST or None, tenant=tenant)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            _, token = support_access_start(
                tenant=tenant,
                admin=request.user,
                member_id=form.cleaned_data["member"],
                allow_writes=form.cleaned_data["allow_writes"],
                reason=form.cleaned_data["reason"],
            )
        except TesseraError as exc:
            form.add_error(None, exc.message)
            status = exc.http_status
        else:
            host = tenant_primary_host(tenant=tenant)
            return HttpResponseRedirect(
                tenant_url(host=host or "", request=request) + f"support/start/?token={token}"
            )
    elif request.method == "POST":
        status = 400
    sessions, entries = _history(tenant)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Support access to {tenant.name}",
        "tenant": tenant,
        "form": form,
        "may_support": admin_may_support(request.user),
        "support_minutes": settings.SUPPORT_ACCESS_MINUTES,
        "sessions": sessions,
        "entries": entries,
        "opts": model_admin.model._meta,
        "original": tenant,
    }
    response = TemplateResponse(request, "admin/support/start.html", context, status=status)
    host = tenant_primary_host(tenant=tenant)
    if host:
        # The form's POST is answered with a redirect to the tenant's host: CSP's
        # form-action applies to redirects too, so this page allows that one origin.
        response._csp_update = {  # type: ignore[attr-defined]
            "form-action": [tenant_url(host=host, request=request).rstrip("/")]
        }
    return response


def support_end_view(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str):
    """End an open session from the admin (the tenant host ends it on the next request)."""
    from shared_apps.support.services import EndReason, support_access_end

    if request.method != "POST":
        return HttpResponse(status=405)
    session = get_object_or_404(SupportSession, pk=object_id)
    if support_access_end(session=session, reason=EndReason.ENDED):
        messages.success(request, f"Support access {session} ended.")
    return HttpResponseRedirect(reverse("admin:tenants_tenant_support", args=[session.tenant_id]))


@admin.register(SupportSession)
class SupportSessionAdmin(admin.ModelAdmin):
    list_display = (
        "created",
        "tenant",
        "admin_email",
        "member_email",
        "allow_writes",
        "status",
        "expires_at",
        "end_reason",
    )
    list_filter = ("status", "allow_writes")
    search_fields = ("admin_email", "member_email", "tenant__name", "tenant__subdomain")
    list_select_related = ("tenant",)
    readonly_fields = [f.name for f in SupportSession._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # started from a tenant's page (Support access)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the trail stays
