"""What a tenant may use: its plan's entitlements plus per-tenant overrides (ADR 0025).

One mechanism for everything a plan includes:

* **features** (``Feature``): on or off; ``require_feature(tenant, Feature.API_KEYS)``
  raises ``FeatureNotInPlan`` (402 ``feature_not_in_plan``);
* **numeric limits** (``billing.limits.Limit``: members, products, orders a month) read
  by ``billing.limits.limit_check`` (402 ``plan_limit_exceeded``), None = unlimited;
* **audit_log_days**: how long the audit log is kept (None = forever).

The plan's values are data (``Plan.features``, ``Plan.max_*``, ``Plan.audit_log_days``)
and a ``TenantEntitlementOverride`` (a deal, optionally expiring) replaces one of them for
one tenant; both are edited in the Django admin. ``tenant_entitlements`` is the only
reader: every check (services, the API-key authentication, tasks) goes through it.

Two caches, both accelerators only (an entry never outlives the next override expiry):

* **In process, validated by the routing generation** (as hosts and memberships are,
  ADR 0005 and 0026), inside a routed transaction -- every request, and a task's
  tenant work: keyed by tenant id and stamped with the generation the transaction's
  routing statement returned, so a hit costs no SQL and no Redis round trip. Database
  triggers bump the generation on any write to plans (``billing`` migration 0003),
  overrides (0007) and tenants (a new plan), in any process; a miss reads the
  database (after the generation was read: a change committed meanwhile is seen, or
  has moved the generation past the stamp).
* **Elsewhere** (commands, code outside a transaction): the ``shared`` cache (no schema
  prefix, so the admin on public and a request on the tenant's host see one entry)
  under a key carrying a global generation: saving or deleting a plan bumps it, an
  override deletes its tenant's entry. When Redis is down the values are read from
  the database.

``entitlements_invalidate`` also forgets this process's entries (a change made earlier
in the same transaction, whose generation the transaction has not re-read).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from django.core.cache import caches
from django.utils import timezone

from shared_apps.core.errors import FeatureNotInPlan
from tenants.postgresql_backend.base import tenant_connection

if TYPE_CHECKING:
    from tenants.models import Tenant

logger = logging.getLogger(__name__)


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

AUDIT_LOG_DAYS = "audit_log_days"
# Numeric entitlements: limit code → Plan field (the limits of billing.limits, and the
# audit log retention).
NUMERIC_FIELDS = {
    "members": "max_members",
    "products": "max_products",
    "orders_per_month": "max_orders_per_month",
    AUDIT_LOG_DAYS: "audit_log_days",
}
NUMERIC_LABELS = {
    "members": "Members",
    "products": "Products",
    "orders_per_month": "Orders a month",
    AUDIT_LOG_DAYS: "Audit log kept (days)",
}
ENTITLEMENT_KEYS = frozenset({*(f.value for f in Feature), *NUMERIC_FIELDS})

CACHE_ALIAS = "shared"
CACHE_SECONDS = 300
_GENERATION_KEY = "entitlements:generation"


@dataclass(frozen=True)
class Entitlements:
    plan_id: int
    features: frozenset[str]
    values: dict[str, int | None]  # numeric entitlements; None = unlimited
    overridden: frozenset[str] = field(default_factory=frozenset)
    expires: float | None = None  # epoch seconds of the earliest override expiry

    def value(self, key: str) -> int | None:
        return self.values.get(key)

    def as_cached(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "features": sorted(self.features),
            "values": self.values,
            "overridden": sorted(self.overridden),
            "expires": self.expires,
        }

    @classmethod
    def from_cached(cls, data: dict[str, Any]) -> Entitlements:
        return cls(
            plan_id=data["plan_id"],
            features=frozenset(data["features"]),
            values=dict(data["values"]),
            overridden=frozenset(data["overridden"]),
            expires=data["expires"],
        )


def _cache():
    return caches[CACHE_ALIAS]


def _cache_key(tenant_id: int) -> str:
    try:
        generation = _cache().get(_GENERATION_KEY) or 0
    except Exception:
        generation = "down"
    return f"entitlements:{generation}:{tenant_id}"


def entitlements_compute(tenant: Tenant, *, now: dt.datetime | None = None) -> Entitlements:
    """The entitlements of ``tenant`` now, from the database (plan + live overrides)."""
    from billing.models import Plan, TenantEntitlementOverride

    now = now or timezone.now()
    plan = Plan.objects.get(pk=tenant.plan_id)
    features = {f for f in (plan.features or ()) if f in Feature._value2member_map_}
    values: dict[str, int | None] = {
        key: getattr(plan, attr) for key, attr in NUMERIC_FIELDS.items()
    }
    overridden: set[str] = set()
    expires: dt.datetime | None = None
    overrides = TenantEntitlementOverride.objects.for_tenant(tenant).exclude(expires_at__lte=now)
    for override in overrides:
        if override.key in NUMERIC_FIELDS:
            values[override.key] = override.value
        elif override.key in Feature._value2member_map_:
            (features.add if override.enabled else features.discard)(override.key)
        else:
            continue
        overridden.add(override.key)
        if override.expires_at is not None and (expires is None or override.expires_at < expires):
            expires = override.expires_at
    return Entitlements(
        plan_id=plan.pk,
        features=frozenset(features),
        values=values,
        overridden=frozenset(overridden),
        expires=expires.timestamp() if expires else None,
    )


class _ProcessEntitlements:
    """Bounded, thread-safe ``tenant id -> (entitlements, routing generation)``."""

    def __init__(self, maxsize: int) -> None:
        self._entries: LRUCache[int, tuple[Entitlements, int]] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def get(self, tenant_id: int, generation: int) -> Entitlements | None:
        with self._lock:
            cached = self._entries.get(tenant_id)
        return cached[0] if cached is not None and cached[1] == generation else None

    def put(self, tenant_id: int, generation: int, found: Entitlements) -> None:
        with self._lock:
            self._entries[tenant_id] = (found, generation)

    def forget(self, tenant_id: int | None = None) -> None:
        with self._lock:
            if tenant_id is None:
                self._entries.clear()
            else:
                self._entries.pop(tenant_id, None)


PROCESS_CACHE_SIZE = 10_000  # tenants whose entitlements one process keeps
_in_process = _ProcessEntitlements(maxsize=PROCESS_CACHE_SIZE)


def _still_valid(found: Entitlements, tenant: Tenant, now: dt.datetime) -> bool:
    return found.plan_id == tenant.plan_id and (
        found.expires is None or found.expires > now.timestamp()
    )


def tenant_entitlements(tenant: Tenant) -> Entitlements:
    """What ``tenant`` may use now (cached; see the module docstring)."""
    now = timezone.now()
    # None outside a routed transaction (and on a backend that does not route).
    generation = getattr(tenant_connection(), "routing_generation", None)
    if generation is not None:
        found = _in_process.get(tenant.pk, generation)
        if found is not None and _still_valid(found, tenant, now):
            return found
        found = entitlements_compute(tenant, now=now)
        _in_process.put(tenant.pk, generation, found)
        return found
    key = _cache_key(tenant.pk)
    try:
        cached = _cache().get(key)
    except Exception:
        cached = None
    if cached is not None:
        found = Entitlements.from_cached(cached)
        if _still_valid(found, tenant, now):
            return found
    found = entitlements_compute(tenant, now=now)
    timeout = CACHE_SECONDS
    if found.expires is not None:
        timeout = max(1, min(timeout, int(found.expires - now.timestamp())))
    try:
        _cache().set(key, found.as_cached(), timeout=timeout)
    except Exception:
        logger.warning("entitlements not cached: cache unavailable")
    return found


def entitlements_invalidate(*, tenant_id: int | None = None) -> None:
    """Forget cached entitlements: one tenant's, or (None) every tenant's (other
    processes' in-process entries follow the routing generation)."""
    _in_process.forget(tenant_id)
    try:
        if tenant_id is None:
            try:
                _cache().incr(_GENERATION_KEY)
            except ValueError:  # no generation yet
                _cache().set(_GENERATION_KEY, 1, timeout=None)
        else:
            _cache().delete(_cache_key(tenant_id))
    except Exception:
        logger.warning("entitlements cache not invalidated: cache unavailable")


def tenant_features(tenant: Tenant) -> frozenset[str]:
    """The features ``tenant`` may use now (its plan's, with overrides applied)."""
    return tenant_entitlements(tenant).features


def has_feature(tenant: Tenant, feature: Feature) -> bool:
    return feature in tenant_features(tenant)


def require_feature(tenant: Tenant, feature: Feature) -> None:
    """Raise ``FeatureNotInPlan`` (402) unless ``tenant`` may use ``feature``."""
    if not has_feature(tenant, feature):
        raise FeatureNotInPlan(
            f"Your {tenant.plan.name} plan does not include {FEATURE_LABELS[feature]}; "
            "upgrade to use them.",
            fields={"feature": feature.value, "plan": tenant.plan.code},
        )


# Apps that own what a feature makes register how much of it a tenant uses (for the
# billing page), so billing imports none of their models.
_FEATURE_USAGE: dict[Feature, Callable[[], int]] = {}


def feature_usage_counter(feature: Feature) -> Callable[[Callable[[], int]], Callable[[], int]]:
    """Register ``counter() -> int`` (run in the tenant's schema) as ``feature``'s usage."""

    def register(counter: Callable[[], int]) -> Callable[[], int]:
        _FEATURE_USAGE[feature] = counter
        return counter

    return register


def feature_usage(feature: Feature) -> int | None:
    counter = _FEATURE_USAGE.get(feature)
    return counter() if counter else None


def entitlement_value(tenant: Tenant, key: str) -> int | None:
    """A numeric entitlement (a limit code or ``audit_log_days``); None = unlimited."""
    return tenant_entitlements(tenant).value(key)
