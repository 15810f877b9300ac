from django.contrib import admin

from shared_apps.organizations.models import Organization, OrganizationUser


class OrganizationUserInline(admin.TabularInline):
    model = OrganizationUser
    extra = 0
    fields = ("user", "role", "created")
    readonly_fields = ("created",)
    raw_id_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_active", "created")
    search_fields = ("name", "slug")
    list_filter = ("is_active",)
    inlines = [OrganizationUserInline]


@admin.register(OrganizationUser)
class OrganizationUserAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "created")
    list_filter = ("role",)
    search_fields = ("user__email", "organization__name")
    raw_id_fields = ("user", "organization")
