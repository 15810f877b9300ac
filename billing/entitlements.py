"""What a tenant's plan includes, besides its numeric limits (SPEC §13 entitlements).

One check, ``require_feature(tenant, Feature.API_KEYS)``, raising ``FeatureNotInPlan``
(402 ``feature_not_in_plan``). The features of a plan are data (``Plan.features``, seeded
by ``billing/migrations/0005_plan_features.py``), so a plan is changed in the admin, not
in code. Per-tenant overrides (SPEC §13, the entitlements issue) belong in
``tenant_features`` and nowhere else.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from shared_apps.core.errors import FeatureNotInPlan

if TYPE_CHECKING:
    from tenants.models import Tenant


class Feature(enum.StrEnum):
    EXPORTS = "exports"
    API_KEYS = "api_keys"
    WEBHOOKS = "webhooks"
    MFA_ENFORCEMENT = "mfa_enforcement"


FEATURE_LABELS = {
    Feature.EXPORTS: "exports",
    Feature.API_KEYS: "API keys",
    Feature.WEBHOOKS: "webhooks",
    Feature.MFA_ENFORCEMENT: "MFA enforcement",
}


def tenant_features(tenant: Tenant) -> frozenset[str]:
    """The features ``tenant`` may use now (its plan's; overrides go here)."""
    return frozenset(tenant.plan.features or ())


def has_feature(tenant: Tenant, feature: Feature) -> bool:
    return feature in tenant_features(tenant)


def require_feature(tenant: Tenant, feature: Feature) -> None:
    """Raise ``FeatureNotInPlan`` (402) unless ``tenant``'s plan includes ``feature``."""
    if not has_feature(tenant, feature):
        raise FeatureNotInPlan(
            f"Your {tenant.plan.name} plan does not include {FEATURE_LABELS[feature]}; "
            "upgrade to use them.",
            fields={"feature": feature.value, "plan": tenant.plan.code},
        )
