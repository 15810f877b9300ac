"""Order and customer reads; aggregates are computed in the database."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Avg, Count, DecimalField, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from billing.limits import Limit, month_start, usage_counter
from shared_apps.core.querysets import built_once
from tenant_apps.orders.models import REVENUE_STATUSES, Customer, Order, OrderItem, OrderStatus
from tenants.models import Tenant

_ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
_REVENUE = Q(status__in=REVENUE_STATUSES)


@built_once
def customer_list() -> QuerySet[Customer]:
    """Customers with their number of orders and total spent (revenue orders only)."""
    return Customer.objects.annotate(
        order_count=Count("orders", filter=Q(orders__status__in=REVENUE_STATUSES)),
        total_spent=Coalesce(
            Sum("orders__total", filter=Q(orders__status__in=REVENUE_STATUSES)), _ZERO
        ),
    )


@built_once
def order_list() -> QuerySet[Order]:
    return Order.objects.select_related("customer").annotate(item_count=Count("items"))


def order_detail_queryset() -> QuerySet[Order]:
    return order_list().prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product"))
    )


def order_summary() -> dict:
    totals = Order.objects.aggregate(
        order_count=Count("id", filter=_REVENUE),
        revenue=Coalesce(Sum("total", filter=_REVENUE), _ZERO),
        paid_revenue=Coalesce(Sum("total", filter=Q(status=OrderStatus.PAID)), _ZERO),
        refund_count=Count("id", filter=Q(status=OrderStatus.REFUNDED)),
        canceled_count=Count("id", filter=Q(status=OrderStatus.CANCELED)),
        average_order_value=Coalesce(Avg("total", filter=_REVENUE), _ZERO),
    )
    totals["average_order_value"] = Decimal(totals["average_order_value"]).quantize(Decimal("0.01"))
    return totals


def order_monthly_revenue(*, months: int = 12) -> list[dict]:
    rows = (
        Order.objects.filter(_REVENUE)
        .annotate(month=TruncMonth("created"))
        .values("month")
        .annotate(revenue=Sum("total"), order_count=Count("id"))
        .order_by("-month")[:months]
    )
    return [
        {
            "month": row["month"].date().isoformat()[:7],
            "revenue": row["revenue"],
            "order_count": row["order_count"],
        }
        for row in reversed(list(rows))
    ]


@usage_counter(Limit.ORDERS_PER_MONTH)
def order_count_this_month(tenant: Tenant) -> int:
    """Orders placed in the active tenant's schema since the start of this month."""
    return Order.objects.filter(created__gte=month_start()).count()
