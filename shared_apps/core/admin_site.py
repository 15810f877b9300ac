from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class PlatformAdminSite(admin.AdminSite):
    """The platform admin (public host only): superusers, never tenant users or staff."""

    site_header = "Tessera platform admin"
    site_title = "Tessera admin"
    index_title = "Tenants, plans and accounts"

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_superuser)


class PlatformAdminConfig(AdminConfig):
    default_site = "shared_apps.core.admin_site.PlatformAdminSite"
