"""Reads about accounts: MFA state, a tenant's MFA rule, email verification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.utils import timezone

from shared_apps.accounts.models import TenantSecurityPolicy


def user_has_totp(*, user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def tenant_mfa_required(*, tenant) -> bool:
    if tenant is None:
        return False
    return TenantSecurityPolicy.objects.for_tenant(tenant).filter(mfa_required=True).exists()


def mfa_setup_required(*, user, tenant) -> bool:
    """True when ``tenant`` requires MFA and the signed-in ``user`` has none yet."""
    if user is None or not getattr(user, "is_authenticated", False) or tenant is None:
        return False
    return tenant_mfa_required(tenant=tenant) and not user_has_totp(user=user)


@dataclass(frozen=True)
class EmailVerificationState:
    email: str
    verified: bool
    deadline: datetime | None  # end of the grace period while unverified
    overdue: bool  # the grace period is over and the email is still unverified

    @property
    def remind(self) -> bool:
        return not self.verified


def email_verification_state(*, user) -> EmailVerificationState:
    """Verification of the user's primary address. An account without an allauth address
    row (created by an invitation, whose link proved the address) counts as verified."""
    address = (
        EmailAddress.objects.filter(user_id=user.pk, email__iexact=user.email)
        .order_by("-verified")
        .first()
    )
    if address is None or address.verified:
        return EmailVerificationState(user.email, True, None, False)
    deadline = user.date_joined + timedelta(days=settings.EMAIL_VERIFICATION_GRACE_DAYS)
    return EmailVerificationState(user.email, False, deadline, timezone.now() >= deadline)
