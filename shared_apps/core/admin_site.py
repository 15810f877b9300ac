from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

# Third-party mirrors listed last, under one heading, out of the operator's way.
STRIPE_MIRROR_APP = "djstripe"


class PlatformAdminSite(admin.AdminSite):
    """The platform admin (public host only): superusers, never tenant users or staff.

    Its home page is the operator's dashboard (``tenants.dashboard``)."""

    site_header = "Tessera platform admin"
    site_title = "Tessera admin"
    index_title = "Operator dashboard"
    index_template = "admin/dashboard.html"

    def has_permission(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_superuser):
            return False
        return not settings.ADMIN_REQUIRE_MFA or signed_in_with_mfa(request)

    def login(self, request, extra_context=None):
        """With ``ADMIN_REQUIRE_MFA``, sign-in goes through allauth's login and its TOTP
        step; a superuser without TOTP is sent to set it up first."""
        if not settings.ADMIN_REQUIRE_MFA:
            return super().login(request, extra_context)
        user = request.user
        if user.is_authenticated and user.is_active and user.is_superuser:
            from shared_apps.accounts.selectors import user_has_totp

            if not user_has_totp(user=user):
                return HttpResponseRedirect("/accounts/mfa/totp/activate/")
            # Signed in with a password only (an old session): sign in again with TOTP.
            return HttpResponseRedirect(
                "/accounts/mfa/reauthenticate/?" + urlencode({"next": request.get_full_path()})
            )
        next_url = request.GET.get("next") or f"/{settings.DJANGO_ADMIN_URL}"
        return HttpResponseRedirect(settings.LOGIN_URL + "?" + urlencode({"next": next_url}))

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        from tenants.dashboard import platform_overview

        return super().index(request, {"overview": platform_overview(), **(extra_context or {})})

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        ours = [app for app in apps if app["app_label"] != STRIPE_MIRROR_APP]
        mirror = [app for app in apps if app["app_label"] == STRIPE_MIRROR_APP]
        for app in mirror:
            app["name"] = "Stripe mirror (dj-stripe, synced from Stripe)"
        return ours + mirror

    def get_urls(self):
        retry = [
            path(
                "dashboard/webhook-events/<int:pk>/retry/",
                self.admin_view(require_POST(self.retry_webhook_event)),
                name="dashboard-retry-webhook-event",
            ),
            path(
                "dashboard/fanout-runs/<int:pk>/retry/",
                self.admin_view(require_POST(self.retry_fanout_run)),
                name="dashboard-retry-fanout-run",
            ),
        ]
        return retry + super().get_urls()

    def retry_webhook_event(self, request: HttpRequest, pk: int) -> HttpResponse:
        from billing.models import WebhookEvent, WebhookEventStatus
        from billing.tasks import process_webhook_event

        event = get_object_or_404(WebhookEvent, pk=pk, status=WebhookEventStatus.FAILED)
        process_webhook_event.delay(event.pk)
        messages.success(request, f"Stripe event {event.stripe_id} queued again.")
        return HttpResponseRedirect(reverse("admin:index"))

    def retry_fanout_run(self, request: HttpRequest, pk: int) -> HttpResponse:
        from tenants.background.fanout import retry_failed
        from tenants.background.models import FanoutRun

        run = get_object_or_404(FanoutRun, pk=pk)
        sent = retry_failed(run)
        messages.success(request, f"{sent} failed tenant(s) of {run.job} sent again.")
        return HttpResponseRedirect(reverse("admin:index"))


def signed_in_with_mfa(request) -> bool:
    """The session's sign-in included a second factor (allauth records the methods)."""
    from allauth.account.internal.flows.login import get_authentication_records

    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


class PlatformAdminConfig(AdminConfig):
    default_site = "shared_apps.core.admin_site.PlatformAdminSite"
