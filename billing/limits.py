"""Plan limits, enforced by the tenant apps' services (members, products, orders).

A downgrade never deletes data: a tenant above a limit keeps everything and is only
refused new additions (402 ``plan_limit_exceeded``) until it is back under the limit.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Callable

from django.db import connection
from django.utils import timezone

from shared_apps.core.errors import PlanLimitExceeded
from tenants.models import Tenant


class Limit(enum.StrEnum):
    MEMBERS = "members"
    PRODUCTS = "products"
    ORDERS_PER_MONTH = "orders_per_month"


_PLAN_FIELD = {
    Limit.MEMBERS: "max_members",
    Limit.PRODUCTS: "max_products",
    Limit.ORDERS_PER_MONTH: "max_orders_per_month",
}


def month_start():
    now = timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _members(tenant: Tenant) -> int:
    from shared_apps.organizations.models import OrganizationUser

    return OrganizationUser.objects.for_tenant(tenant).count()


def _products(tenant: Tenant) -> int:
    from tenant_apps.catalog.models import Product

    return Product.objects.count()


def _orders_this_month(tenant: Tenant) -> int:
    from tenant_apps.orders.models import Order

    return Order.objects.filter(created__gte=month_start()).count()


_USAGE: dict[Limit, Callable[[Tenant], int]] = {
    Limit.MEMBERS: _members,
    Limit.PRODUCTS: _products,
    Limit.ORDERS_PER_MONTH: _orders_this_month,
}


def limit_of(tenant: Tenant, limit: Limit) -> int | None:
    return getattr(tenant.plan, _PLAN_FIELD[limit])


def usage_of(tenant: Tenant, limit: Limit) -> int:
    return _USAGE[limit](tenant)


def limit_check(*, tenant: Tenant, limit: Limit, adding: int = 1) -> None:
    """Raise ``PlanLimitExceeded`` unless ``adding`` more fit in the plan.

    Call inside the service's transaction: an advisory lock per (tenant, limit) makes
    concurrent additions queue, so two requests cannot both take the last slot.
    """
    cap = limit_of(tenant, limit)
    if cap is None:
        return
    key = zlib.crc32(f"{tenant.schema_name}:{limit}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7341, key - 2**31])
    used = usage_of(tenant, limit)
    if used + adding > cap:
        raise PlanLimitExceeded(
            f"Your {tenant.plan.name} plan allows {cap} {limit.replace('_', ' ')}; "
            "upgrade to add more.",
            fields={"limit": limit.value, "allowed": cap, "used": used},
        )
