"""tenants/services.py: status changes and their guards."""

from __future__ import annotations

import pytest

from shared_apps.core.errors import Conflict
from tenants.models import Tenant, TenantEvent, TenantStatus
from tenants.services import tenant_resume, tenant_set_status, tenant_suspend
from tests.factories import TenantFactory, UserFactory


def test_setting_the_current_status_changes_and_records_nothing(db):
    tenant = TenantFactory(active=True)
    changed_at = tenant.status_changed_at
    assert tenant_set_status(tenant=tenant, status=TenantStatus.ACTIVE, acting_user=None) is tenant
    tenant.refresh_from_db()
    assert (tenant.status, tenant.status_changed_at) == (TenantStatus.ACTIVE, changed_at)
    assert not TenantEvent.objects.filter(tenant=tenant).exists()


def test_a_canceled_tenant_cannot_be_suspended(db):
    tenant = TenantFactory(canceled=True)
    with pytest.raises(Conflict, match=r"^A canceled tenant cannot be suspended\.$"):
        tenant_suspend(tenant=tenant, acting_user=None)
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.CANCELED
    assert not TenantEvent.objects.filter(tenant=tenant).exists()


def test_only_a_suspended_tenant_can_be_resumed(db):
    tenant = TenantFactory(past_due=True)
    with pytest.raises(Conflict, match=r"^Only a suspended tenant can be resumed\.$"):
        tenant_resume(tenant=tenant, acting_user=None)
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.PAST_DUE


def test_suspend_then_resume_records_each_change_with_its_reason(db):
    tenant = TenantFactory(active=True)
    operator = UserFactory(superuser=True)

    suspended = tenant_suspend(tenant=tenant, acting_user=operator, reason="chargeback")
    assert suspended.status == TenantStatus.SUSPENDED and suspended.is_read_only
    resumed = tenant_resume(tenant=tenant, acting_user=operator, reason="paid")

    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.ACTIVE == resumed.status
    events = TenantEvent.objects.filter(tenant=tenant).order_by("id")
    assert [(e.actor_id, e.action, e.detail) for e in events] == [
        (
            operator.pk,
            "tenant.status_changed",
            {"from": "active", "to": "suspended", "reason": "chargeback"},
        ),
        (
            operator.pk,
            "tenant.status_changed",
            {"from": "suspended", "to": "active", "reason": "paid"},
        ),
    ]
