from django.contrib import admin

from tenants.data.models import TenantDeletionRecord


@admin.register(TenantDeletionRecord)
class TenantDeletionRecordAdmin(admin.ModelAdmin):
    """What was deleted, when and at whose request: read-only, never deletable."""

    list_display = ("subdomain", "organization_name", "requested_by_email", "deleted_at")
    search_fields = ("subdomain", "organization_name", "requested_by_email", "schema_name")
    date_hierarchy = "deleted_at"
    readonly_fields = [f.name for f in TenantDeletionRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
