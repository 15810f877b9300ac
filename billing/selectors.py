from __future__ import annotations

from billing.entitlements import (
    AUDIT_LOG_DAYS,
    NUMERIC_LABELS,
    Feature,
    feature_usage,
    tenant_entitlements,
)
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


FEATURE_ROW_LABELS = {
    Feature.EXPORTS: "Exports",
    Feature.API_KEYS: "API keys",
    Feature.WEBHOOKS: "Webhook endpoints",
    Feature.MFA_ENFORCEMENT: "MFA enforcement",
}


def entitlement_rows(*, tenant: Tenant, usage: dict[str, int]) -> list[dict]:
    """One row per feature and numeric entitlement: what the tenant has and uses.

    ``usage`` is the limits' usage already counted; features count theirs in the
    active (tenant) schema through ``feature_usage``."""
    entitled = tenant_entitlements(tenant)
    rows: list[dict] = []
    for feature in Feature:
        rows.append(
            {
                "key": feature.value,
                "label": FEATURE_ROW_LABELS[feature],
                "kind": "feature",
                "included": feature.value in entitled.features,
                "value": None,
                "usage": feature_usage(feature),
                "overridden": feature.value in entitled.overridden,
            }
        )
    for key, label in NUMERIC_LABELS.items():
        rows.append(
            {
                "key": key,
                "label": label,
                "kind": "limit",
                "included": True,
                "value": entitled.value(key),
                "usage": usage.get(key) if key != AUDIT_LOG_DAYS else None,
                "overridden": key in entitled.overridden,
            }
        )
    return rows


def billing_overview(*, tenant: Tenant, detail: bool = False) -> dict:
    """Plan, status, limits, current usage and trial end of the active tenant; with
    ``detail`` (the billing page and API) its seats and entitlements as well."""
    from billing.seats import seats_overview

    account = getattr(tenant, "billing_account", None)
    usage = {limit.value: usage_of(tenant, limit) for limit in Limit}
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
            "per_seat": tenant.plan.is_per_seat,
        },
        "limits": {limit.value: limit_of(tenant, limit) for limit in Limit},
        "usage": usage,
        "seats": seats_overview(tenant=tenant, account=account) if detail else None,
        "entitlements": entitlement_rows(tenant=tenant, usage=usage) if detail else [],
        "subscription": {
            "status": account.subscription_status if account else "",
            "current_period_end": account.current_period_end if account else None,
        },
        "plans": [
            {
                "code": p.code,
                "name": p.name,
                "monthly_price_cents": p.monthly_price_cents,
                "per_seat": p.is_per_seat,
                "purchasable": bool(p.stripe_price_id),
            }
            for p in Plan.objects.filter(is_public=True)
        ],
    }
