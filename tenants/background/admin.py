"""The admin of background work: each fan-out run, what failed, and a retry action."""

from django.contrib import admin, messages
from django.db.models import QuerySet

from tenants.background.fanout import retry_failed, run_summary
from tenants.background.models import FanoutFailure, FanoutItem, FanoutItemStatus, FanoutRun


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
