from django.contrib import admin, messages
from django.db.models import QuerySet

from billing.admin import BillingAccountInline, EntitlementOverrideInline
from shared_apps.core.errors import TesseraError
from tenants.fanout import retry_failed, run_summary
from tenants.models import (
    Domain,
    FanoutFailure,
    FanoutItem,
    FanoutItemStatus,
    FanoutRun,
    SpareSchema,
    Tenant,
    TenantEvent,
)
from tenants.selectors import tenant_admin_list
from tenants.services import tenant_resume, tenant_suspend


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary", "created")
    readonly_fields = ("created",)


class TenantEventInline(admin.TabularInline):
    model = TenantEvent
    extra = 0
    can_delete = False
    fields = ("created", "action", "actor", "detail")
    readonly_fields = fields
    ordering = ("-created",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "subdomain",
        "schema_name",
        "status",
        "plan",
        "primary_domain",
        "member_count",
        "created",
    )
    list_filter = ("status", "plan")
    search_fields = ("name", "subdomain", "schema_name", "domains__domain")
    readonly_fields = (
        "schema_name",
        "subdomain",
        "organization",
        "created",
        "updated",
        "status_changed_at",
    )
    fields = (
        "name",
        "subdomain",
        "schema_name",
        "organization",
        "plan",
        "status",
        "trial_ends_at",
        "status_changed_at",
        "created",
        "updated",
    )
    inlines = [DomainInline, BillingAccountInline, EntitlementOverrideInline, TenantEventInline]
    # A "Support access" button among the object tools (ADR 0024).
    change_form_template = "admin/tenants/tenant/change_form.html"
    actions = ["suspend_tenants", "resume_tenants", "resync_billing"]
    list_select_related = ("plan",)

    def get_queryset(self, request) -> QuerySet[Tenant]:
        return tenant_admin_list()

    def get_urls(self):
        from functools import partial

        from django.urls import path

        from shared_apps.support.admin import support_end_view, support_start_view

        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/support/",
                view(partial(support_start_view, self)),
                name="tenants_tenant_support",
            ),
            path(
                "support-sessions/<int:object_id>/end/",
                view(partial(support_end_view, self)),
                name="tenants_tenant_support_end",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Primary domain", ordering="primary_domain")
    def primary_domain(self, obj: Tenant) -> str:
        return obj.primary_domain or "—"

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj: Tenant) -> int:
        return obj.member_count

    def has_add_permission(self, request) -> bool:
        return False  # tenants are created by sign-up or `manage.py create_tenant`

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deletion goes through the retention job, never a stray click

    def _apply(self, request, queryset, service, verb: str) -> None:
        done = 0
        for tenant in queryset:
            try:
                service(tenant=tenant, acting_user=request.user, reason=f"admin {verb}")
                done += 1
            except TesseraError as exc:
                self.message_user(request, f"{tenant}: {exc.message}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} tenant(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Suspend selected tenants (read-only)")
    def suspend_tenants(self, request, queryset) -> None:
        self._apply(request, queryset, tenant_suspend, "suspended")

    @admin.action(description="Re-sync billing state from Stripe")
    def resync_billing(self, request, queryset) -> None:
        from billing.services import subscription_sync

        def resync(*, tenant, acting_user, reason):
            return subscription_sync(tenant=tenant, reason=f"{reason} by {acting_user}")

        self._apply(request, queryset, resync, "re-synced")

    @admin.action(description="Resume selected tenants")
    def resume_tenants(self, request, queryset) -> None:
        self._apply(request, queryset, tenant_resume, "resumed")


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary", "created")
    search_fields = ("domain", "tenant__name")
    raw_id_fields = ("tenant",)


@admin.register(SpareSchema)
class SpareSchemaAdmin(admin.ModelAdmin):
    list_display = ("schema_name", "migration_fingerprint", "created")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# Background work ------------------------------------------------------------------------------


class FanoutFailureInline(admin.TabularInline):
    model = FanoutFailure
    extra = 0
    can_delete = False
    fields = ("created", "schema_name", "attempt", "will_retry", "error")
    readonly_fields = fields
    ordering = ("-created",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class FanoutItemInline(admin.TabularInline):
    """The tenants that did not succeed (the rest are counted in the summary)."""

    model = FanoutItem
    extra = 0
    can_delete = False
    fields = ("schema_name", "status", "attempts", "last_error", "finished_at")
    readonly_fields = fields
    verbose_name_plural = "Tenants not succeeded"

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(status=FanoutItemStatus.SUCCEEDED)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FanoutRun)
class FanoutRunAdmin(admin.ModelAdmin):
    """Each periodic job's run over the tenants: when, how many, what failed."""

    list_display = (
        "job",
        "period",
        "started_at",
        "finished_at",
        "tenant_count",
        "succeeded",
        "failed",
        "skipped",
        "open",
    )
    list_filter = ("job",)
    search_fields = ("job", "period", "items__schema_name")
    readonly_fields = (
        "job",
        "period",
        "task_name",
        "task_kwargs",
        "dispatcher",
        "started_at",
        "dispatched_at",
        "finished_at",
        "tenant_count",
        "summary",
    )
    fields = readonly_fields
    inlines = [FanoutItemInline, FanoutFailureInline]
    actions = ["retry_failed_tenants"]

    def get_queryset(self, request) -> QuerySet[FanoutRun]:
        from django.db.models import Count, Q

        def count(*statuses: str) -> Count:
            return Count("items", filter=Q(items__status__in=statuses))

        return (
            super()
            .get_queryset(request)
            .annotate(
                n_succeeded=count(FanoutItemStatus.SUCCEEDED),
                n_failed=count(FanoutItemStatus.FAILED),
                n_skipped=count(FanoutItemStatus.SKIPPED),
                n_open=count(
                    FanoutItemStatus.PENDING, FanoutItemStatus.QUEUED, FanoutItemStatus.RETRYING
                ),
            )
        )

    @admin.display(description="Succeeded", ordering="n_succeeded")
    def succeeded(self, obj) -> int:
        return obj.n_succeeded

    @admin.display(description="Failed", ordering="n_failed")
    def failed(self, obj) -> int:
        return obj.n_failed

    @admin.display(description="Skipped", ordering="n_skipped")
    def skipped(self, obj) -> int:
        return obj.n_skipped

    @admin.display(description="Open", ordering="n_open")
    def open(self, obj) -> int:
        return obj.n_open

    @admin.display(description="Summary")
    def summary(self, obj: FanoutRun) -> str:
        return ", ".join(f"{status}: {n}" for status, n in run_summary(obj).items() if n) or "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Retry the tenants that failed")
    def retry_failed_tenants(self, request, queryset) -> None:
        sent = sum(retry_failed(run) for run in queryset)
        self.message_user(request, f"{sent} tenant task(s) sent again.", messages.SUCCESS)
