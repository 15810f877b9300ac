"""shared_apps/accounts/selectors.py: MFA state and a tenant's MFA rule."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from shared_apps.accounts.models import TenantSecurityPolicy
from shared_apps.accounts.selectors import (
    mfa_setup_required,
    tenant_mfa_required,
    user_has_totp,
)
from tests.shared_apps.accounts.test_mfa import enable_mfa


def test_no_user_or_an_anonymous_one_has_no_totp(db):
    assert user_has_totp(user=None) is False
    assert user_has_totp(user=AnonymousUser()) is False


def test_no_tenant_requires_no_mfa(db):
    assert tenant_mfa_required(tenant=None) is False


def test_mfa_setup_is_required_only_of_members_without_totp_where_the_rule_is_on(
    alpha, beta, member
):
    assert mfa_setup_required(user=member, tenant=alpha.tenant) is False  # no policy row
    TenantSecurityPolicy.objects.create(tenant=alpha.tenant, mfa_required=True)
    assert tenant_mfa_required(tenant=alpha.tenant) is True
    assert tenant_mfa_required(tenant=beta.tenant) is False  # alpha's rule is alpha's
    assert mfa_setup_required(user=member, tenant=alpha.tenant) is True
    assert mfa_setup_required(user=member, tenant=None) is False
    assert mfa_setup_required(user=AnonymousUser(), tenant=alpha.tenant) is False
    enable_mfa(alpha, member)
    assert user_has_totp(user=member) is True
    assert mfa_setup_required(user=member, tenant=alpha.tenant) is False
