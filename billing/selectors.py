from __future__ import annotations

from billing.limits import Limit, limit_of, usage_of
from billing.models import Plan
from billing.stripe_client import DISABLED_MESSAGE, billing_enabled
from tenants.models import Tenant

DEFAULT_PLAN_CODE = "free"


def plan_get_for_signup(*, code: str | None) -> Plan | None:
    """The public plan with ``code`` (the default plan when no code is given), or None."""
    return Plan.objects.filter(code=code or DEFAULT_PLAN_CODE, is_public=True).first()


def plan_choices() -> list[tuple[str, str]]:
    return list(Plan.objects.filter(is_public=True).values_list("code", "name"))


def billing_overview(*, tenant: Tenant) -> dict:
    """Plan, status, limits, current usage and trial end of the active tenant."""
    account = getattr(tenant, "billing_account", None)
    return {
        "enabled": billing_enabled(),
        "message": "" if billing_enabled() else DISABLED_MESSAGE,
        "status": tenant.status,
        "read_only": tenant.is_read_only,
        "trial_ends_at": tenant.trial_ends_at,
        "plan": {
            "code": tenant.plan.code,
            "name": tenant.plan.name,
            "monthly_price_cents": tenant.plan.monthly_price_cents,
        },
        "limits": {limit.value: limit_of(tenant, limit) for limit in Limit},
        "usage": {limit.value: usage_of(tenant, limit) for limit in Limit},
        "subscription": {
            "status": account.subscription_status if account else "",
            "current_period_end": account.current_period_end if account else None,
        },
        "plans": [
            {
                "code": p.code,
                "name": p.name,
                "monthly_price_cents": p.monthly_price_cents,
                "purchasable": bool(p.stripe_price_id),
            }
            for p in Plan.objects.filter(is_public=True)
        ],
    }
