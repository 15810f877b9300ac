"""Tenant-owned public rows: one scoped manager, and a recorder that catches unscoped reads."""

from __future__ import annotations

import pytest

from billing.models import BillingAccount, TenantEntitlementOverride, UsageReport
from shared_apps.accounts.models import TenantSecurityPolicy
from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser
from shared_apps.support.models import SupportSession
from tenants.data.models import DataExport, TenantDeletionRequest
from tenants.scoping import tenant_owned_models
from tests.scoping_support import ScopeRecorder, reads_scoped_to


def test_the_tenant_owned_models_are_registered():
    assert set(tenant_owned_models()) == {
        OrganizationUser,
        OrganizationInvitation,
        BillingAccount,
        UsageReport,
        TenantEntitlementOverride,
        TenantSecurityPolicy,
        DataExport,
        TenantDeletionRequest,
        SupportSession,
    }


def test_for_tenant_returns_that_tenants_rows_only(alpha, beta):
    alpha_emails = set(
        OrganizationUser.objects.for_tenant(alpha.tenant).values_list("user__email", flat=True)
    )
    assert alpha_emails == {f"{r}@alpha.test" for r in ("owner", "admin", "member", "viewer")}
    assert BillingAccount.objects.for_tenant(beta.tenant).filter(tenant=alpha.tenant).count() == 0


def test_scoped_reads_pass(beta):
    with reads_scoped_to(beta.tenant):
        list(OrganizationUser.objects.for_tenant(beta.tenant).select_related("user"))
        OrganizationInvitation.objects.for_tenant(beta.tenant).filter(pk=1).exists()
        UsageReport.objects.for_tenant(beta.tenant).count()


@pytest.mark.parametrize(
    "read",
    [
        lambda alpha: list(OrganizationUser.objects.all()),
        lambda alpha: OrganizationInvitation.objects.filter(pk=1).first(),
        lambda alpha: BillingAccount.objects.count(),
        # scoped, but to the wrong tenant
        lambda alpha: list(OrganizationUser.objects.for_tenant(alpha.tenant)),
    ],
    ids=["all", "by-pk", "count", "other-tenant"],
)
def test_an_unscoped_read_is_caught(read, alpha, beta):
    tenant = beta.tenant
    with (
        pytest.raises(AssertionError, match="unscoped reads of tenant-owned rows"),
        reads_scoped_to(tenant),
    ):
        read(alpha)


def test_writes_by_primary_key_are_not_reads(beta):
    recorder = ScopeRecorder(beta.tenant)
    recorder.check('UPDATE "organizations_organizationuser" SET "role" = %s WHERE id = %s', [1, 2])
    assert recorder.unscoped == []
