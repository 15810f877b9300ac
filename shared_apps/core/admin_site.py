from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpResponseRedirect
from django.utils.http import urlencode


class PlatformAdminSite(admin.AdminSite):
    """The platform admin (public host only): superusers, never tenant users or staff."""

    site_header = "Tessera platform admin"
    site_title = "Tessera admin"
    index_title = "Tenants, plans and accounts"

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


def signed_in_with_mfa(request) -> bool:
    """The session's sign-in included a second factor (allauth records the methods)."""
    from allauth.account.internal.flows.login import get_authentication_records

    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


class PlatformAdminConfig(AdminConfig):
    default_site = "shared_apps.core.admin_site.PlatformAdminSite"
