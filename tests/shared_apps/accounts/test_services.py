"""shared_apps/accounts/services.py, called directly: the paths the API and page tests
leave (a reset for a malformed address, a second confirmation, MFA turned off with a
TOTP, an unchanged MFA rule, sign-up with an already verified address)."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator

from shared_apps.accounts.models import TenantSecurityPolicy
from shared_apps.accounts.services import (
    email_verification_start,
    password_reset_request,
    tenant_mfa_requirement_set,
    totp_disable,
    totp_setup_begin,
    totp_setup_confirm,
)
from shared_apps.core.errors import MfaConflict
from tenant_apps.audit.models import AuditEntry
from tests.factories import UserFactory
from tests.shared_apps.accounts.conftest import totp_now


def _enabled(request, user) -> str:
    setup = totp_setup_begin(user=user)
    totp_setup_confirm(request=request, user=user, code=totp_now(setup.secret))
    return setup.secret


def test_a_reset_for_a_malformed_address_mails_nothing(alpha, rf, mailbox):
    password_reset_request(request=rf.post("/", HTTP_HOST=alpha.host), email="not an email")
    assert mailbox == []


def test_a_second_confirmation_is_a_conflict_and_keeps_the_codes(alpha, in_alpha, member, rf):
    request = rf.post("/", HTTP_HOST=alpha.host)
    secret = _enabled(request, member)
    codes_before = Authenticator.objects.get(
        user=member, type=Authenticator.Type.RECOVERY_CODES
    ).data
    with pytest.raises(MfaConflict):
        totp_setup_confirm(request=request, user=member, code=totp_now(secret))
    assert (
        Authenticator.objects.get(user=member, type=Authenticator.Type.RECOVERY_CODES).data
        == codes_before
    )


def test_mfa_turned_off_with_a_totp_uses_no_recovery_code(alpha, in_alpha, member, rf, mailbox):
    request = rf.post("/", HTTP_HOST=alpha.host)
    secret = _enabled(request, member)

    totp_disable(request=request, user=member, code=totp_now(secret))

    assert not Authenticator.objects.filter(user=member).exists()
    actions = list(
        AuditEntry.objects.filter(object_id=str(member.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["auth.mfa_enabled", "auth.mfa_disabled"]
    assert any("turned off" in m.subject for m in mailbox), [m.subject for m in mailbox]


def test_setting_the_mfa_rule_to_what_it_is_changes_and_audits_nothing(alpha, in_alpha):
    owner = alpha.user("owner")
    policy = tenant_mfa_requirement_set(tenant=alpha.tenant, required=False, acting_user=owner)
    assert policy.mfa_required is False
    assert TenantSecurityPolicy.objects.filter(tenant=alpha.tenant).count() == 1
    assert not AuditEntry.objects.filter(action="security.mfa_requirement_changed").exists()


def test_verification_of_an_already_verified_address_sends_nothing(
    alpha, django_capture_on_commit_callbacks
):
    verified = UserFactory()
    EmailAddress.objects.create(user=verified, email=verified.email, primary=True, verified=True)
    unverified = UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert email_verification_start(user=verified, tenant=alpha.tenant).verified is True
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        address = email_verification_start(user=unverified, tenant=alpha.tenant)
    assert address.verified is False and len(callbacks) == 1
