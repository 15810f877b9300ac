from django.contrib import admin

from billing.models import Plan


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "monthly_price_cents",
        "max_members",
        "max_products",
        "max_orders_per_month",
        "is_public",
    )
    ordering = ("sort_order",)
