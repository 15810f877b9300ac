from django.contrib import admin

from billing.models import BillingAccount, Plan, UsageReport, WebhookEvent


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "stripe_price_id",
        "monthly_price_cents",
        "max_members",
        "max_products",
        "max_orders_per_month",
        "is_public",
    )
    ordering = ("sort_order",)


class BillingAccountInline(admin.StackedInline):
    """Shown on the tenant page: the Stripe side of the tenant (read-only; re-sync it)."""

    model = BillingAccount
    extra = 0
    can_delete = False
    readonly_fields = (
        "stripe_customer_id",
        "stripe_subscription_id",
        "subscription_status",
        "current_period_end",
        "past_due_since",
        "synced_at",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("stripe_id", "type", "status", "attempts", "received_at", "processed_at")
    list_filter = ("status", "type")
    search_fields = ("stripe_id", "type")
    readonly_fields = (
        "stripe_id",
        "type",
        "livemode",
        "payload",
        "status",
        "attempts",
        "last_error",
        "stripe_created",
        "received_at",
        "processed_at",
    )
    actions = ["reprocess"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Process again (failed or pending events)")
    def reprocess(self, request, queryset) -> None:
        from billing.models import WebhookEventStatus
        from billing.tasks import process_webhook_event

        events = queryset.filter(status__in=[WebhookEventStatus.FAILED, WebhookEventStatus.PENDING])
        for event in events:
            process_webhook_event.delay(event.pk)
        self.message_user(request, f"{events.count()} event(s) queued.")


@admin.register(UsageReport)
class UsageReportAdmin(admin.ModelAdmin):
    list_display = ("tenant", "period", "quantity", "reported_at")
    list_filter = ("period",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
