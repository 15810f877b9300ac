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


# The Plan field of each limit (the plan's value; billing.entitlements applies overrides).
_PLAN_FIELD = {
    Limit.MEMBERS: "max_members",
    Limit.PRODUCTS: "max_products",
    Limit.ORDERS_PER_MONTH: "max_orders_per_month",
}


def month_start():
    now = timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# Each app that owns a counted thing registers how to count it (``usage_counter``), so
# billing imports none of their models and they import billing only for the check.
_USAGE: dict[Limit, Callable[[Tenant], int]] = {}


def usage_counter(limit: Limit) -> Callable[[Callable[[Tenant], int]], Callable[[Tenant], int]]:
    """Register ``counter(tenant) -> int`` as the usage of ``limit`` (once per limit)."""

    def register(counter: Callable[[Tenant], int]) -> Callable[[Tenant], int]:
        if _USAGE.get(limit, counter) is not counter:
            raise RuntimeError(f"usage of {limit} is counted twice")
        _USAGE[limit] = counter
        return counter

    return register


def limit_of(tenant: Tenant, limit: Limit) -> int | None:
    """The tenant's cap on ``limit`` (its plan's, or an override's: billing.entitlements)."""
    from billing.entitlements import entitlement_value

    return entitlement_value(tenant, limit.value)


def usage_of(tenant: Tenant, limit: Limit) -> int:
    """The tenant's current usage of ``limit`` (counted by the app that registered it)."""
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
