from django import forms
from django.contrib import admin

from billing.entitlements import FEATURE_LABELS, NUMERIC_LABELS, Feature
from billing.models import (
    BillingAccount,
    Plan,
    TenantEntitlementOverride,
    UsageReport,
    WebhookEvent,
)


class PlanForm(forms.ModelForm):
    """The plan's features as checkboxes (stored as a list of ``Feature`` codes)."""

    features = forms.MultipleChoiceField(
        choices=[(f.value, FEATURE_LABELS[f]) for f in Feature],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Plan
        fields = (
            "code",
            "name",
            "is_public",
            "sort_order",
            "pricing",
            "monthly_price_cents",
            "stripe_price_id",
            "features",
            "max_members",
            "max_products",
            "max_orders_per_month",
            "audit_log_days",
        )


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Entitlements of every tenant on the plan (cached per tenant; saving invalidates)."""

    form = PlanForm
    list_display = (
        "code",
        "name",
        "pricing",
        "stripe_price_id",
        "monthly_price_cents",
        "max_members",
        "max_products",
        "max_orders_per_month",
        "audit_log_days",
        "features",
        "is_public",
    )
    ordering = ("sort_order",)
    fieldsets = (
        (None, {"fields": ("code", "name", "is_public", "sort_order")}),
        ("Price", {"fields": ("pricing", "monthly_price_cents", "stripe_price_id")}),
        (
            "Entitlements",
            {
                "fields": (
                    "features",
                    "max_members",
                    "max_products",
                    "max_orders_per_month",
                    "audit_log_days",
                ),
                "description": "Empty numbers are unlimited (audit log: kept forever).",
            },
        ),
    )


class OverrideForm(forms.ModelForm):
    key = forms.ChoiceField(
        choices=[
            *((f.value, f"feature: {FEATURE_LABELS[f]}") for f in Feature),
            *((k, f"limit: {label}") for k, label in NUMERIC_LABELS.items()),
        ]
    )

    class Meta:
        model = TenantEntitlementOverride
        fields = ("tenant", "key", "enabled", "value", "expires_at", "note")


@admin.register(TenantEntitlementOverride)
class TenantEntitlementOverrideAdmin(admin.ModelAdmin):
    """Deals: one tenant's entitlement replaced (until ``expires_at``)."""

    form = OverrideForm
    list_display = ("tenant", "key", "enabled", "value", "expires_at", "note", "created_by")
    list_filter = ("key",)
    search_fields = ("tenant__name", "tenant__schema_name", "note")
    autocomplete_fields = ("tenant",)
    readonly_fields = ("created_by", "created")

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EntitlementOverrideInline(admin.TabularInline):
    """On the tenant page: its deals."""

    model = TenantEntitlementOverride
    form = OverrideForm
    extra = 0
    fields = ("key", "enabled", "value", "expires_at", "note")


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
        "stripe_subscription_item_id",
        "seats_desired",
        "seats_paid",
        "seat_sequence",
        "seats_pushed_sequence",
        "seats_observed_at",
        "seats_last_error",
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
