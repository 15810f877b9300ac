"""Cached entitlements follow their sources (billing.entitlements): a plan saved or
deleted forgets every tenant's entry, an override its tenant's, once the change commits."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.entitlements import entitlements_invalidate
from billing.models import Plan, TenantEntitlementOverride


@receiver([post_save, post_delete], sender=Plan, dispatch_uid="billing.plan_entitlements")
def _plan_changed(sender, instance: Plan, **kwargs) -> None:
    # Now (this transaction's own reads) and after commit (readers that cached the old
    # values meanwhile).
    entitlements_invalidate()
    transaction.on_commit(entitlements_invalidate)


@receiver(
    [post_save, post_delete],
    sender=TenantEntitlementOverride,
    dispatch_uid="billing.override_entitlements",
)
def _override_changed(sender, instance: TenantEntitlementOverride, **kwargs) -> None:
    tenant_id = instance.tenant_id
    entitlements_invalidate(tenant_id=tenant_id)
    transaction.on_commit(lambda: entitlements_invalidate(tenant_id=tenant_id))
