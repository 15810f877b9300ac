"""Account writes for the API and the pages around allauth: password reset, TOTP MFA,
a tenant's MFA rule, email verification at sign-up, security events.

The web pages are allauth's own views (configured in ``adapter.py`` / ``forms.py``);
these services give API clients the same flows through allauth's own pieces (its
token generator, ``TOTP`` and ``RecoveryCodes``), so there is one implementation of
each rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.flows.password_reset import finalize_password_reset
from allauth.account.models import EmailAddress
from allauth.account.utils import url_str_to_user_pk
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, validate_totp_code
from django.contrib.auth.password_validation import validate_password
from django.core.cache import caches
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction

from shared_apps.accounts.models import TenantSecurityPolicy, User
from shared_apps.accounts.selectors import user_has_totp
from shared_apps.accounts.tokens import password_reset_tokens
from shared_apps.core.errors import (
    ErrorCode,
    InvalidToken,
    Message,
    MfaConflict,
    MfaInvalid,
    MfaRequired,
    TesseraError,
    ValidationFailed,
)
from shared_apps.core.lockout import lockout_guarded

logger = logging.getLogger(__name__)

# Seconds a TOTP set-up started through the API waits for its confirming code.
TOTP_SETUP_SECONDS = 15 * 60


class MfaNotEnabled(TesseraError):
    code = ErrorCode.MFA_NOT_ENABLED
    http_status = 409
    message = Message.MFA_NOT_ENABLED


class MfaSetupNotStarted(TesseraError):
    code = ErrorCode.MFA_INVALID
    http_status = 400
    message = Message.MFA_SETUP_NOT_STARTED


class MfaCodeWrong(TesseraError):
    """A wrong code where the caller is already signed in (set-up, removal): 400, so a
    client does not take it for an expired token."""

    code = ErrorCode.MFA_INVALID
    http_status = 400
    message = Message.MFA_INVALID


class OwnMfaFirst(TesseraError):
    code = ErrorCode.MFA_NOT_ENABLED
    http_status = 409
    message = "Turn on two-factor authentication for your own account first."


# Security events ----------------------------------------------------------------------------


def security_event(*, action: str, actor, changes: dict[str, Any] | None = None) -> None:
    """Record a security event in the audit log of the tenant whose schema is active.

    On the public host (platform admin sign-in) there is no tenant audit log: the event
    goes to the application log only. Never pass a secret in ``changes``.
    """
    from tenant_apps.audit.services import audit_record

    if getattr(connection, "schema_name", "public") == "public":
        logger.info("security event %s (user %s)", action, getattr(actor, "pk", None))
        return
    audit_record(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type="accounts.user",
        object_id=getattr(actor, "pk", "") or "",
        changes=changes,
    )


# Password reset (API) -----------------------------------------------------------------------


def password_reset_request(*, request, email: str) -> None:
    """Mail a reset link for this tenant's host to ``email`` if it belongs to an active
    member here; nothing otherwise. The caller answers the same either way."""
    from shared_apps.accounts.forms import TenantResetPasswordForm

    form = TenantResetPasswordForm(data={"email": email})
    if form.is_valid():
        form.save(request)


def _user_from_reset_token(token: str) -> tuple[User, str] | None:
    uidb36, _, key = (token or "").partition("-")
    if not uidb36 or not key:
        return None
    try:
        user = User.objects.get(pk=url_str_to_user_pk(uidb36))
    except (ValueError, OverflowError, User.DoesNotExist):
        return None
    return user, key


@transaction.atomic
def password_reset_confirm(*, request, token: str, password: str) -> User:
    """Set a new password with a reset token issued on this tenant's host.

    Raises ``InvalidToken`` (unknown, used, expired or another host's token) or
    ``ValidationFailed`` (a password the validators refuse; the token stays usable).
    """
    from shared_apps.accounts.adapter import may_sign_in_here

    found = _user_from_reset_token(token)
    if found is None:
        raise InvalidToken(fields={"token": [Message.INVALID_TOKEN]})
    user, key = found
    if not password_reset_tokens.check_token(user, key) or not may_sign_in_here(request, user):
        raise InvalidToken(fields={"token": [Message.INVALID_TOKEN]})
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from exc
    get_account_adapter(request).set_password(user, password)
    # allauth's own ending: clears the failed-login count, sends the password_reset
    # signal (audited in receivers.py) and the "your password was reset" notice.
    finalize_password_reset(request, user)
    return user


# TOTP (API) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_url: str


def _setup_key(user: User) -> str:
    return f"mfa:totp-setup:{user.pk}"


def totp_setup_begin(*, user: User) -> TotpSetup:
    """Start TOTP enrolment: a new secret (kept encrypted in the cache until confirmed)."""
    if user_has_totp(user=user):
        raise MfaConflict()
    secret = generate_totp_secret()
    adapter = get_mfa_adapter()
    caches["shared"].set(_setup_key(user), adapter.encrypt(secret), timeout=TOTP_SETUP_SECONDS)
    return TotpSetup(secret=secret, otpauth_url=adapter.build_totp_url(user, secret))


@transaction.atomic
def totp_setup_confirm(*, request, user: User, code: str) -> list[str]:
    """Turn MFA on with a code from the new secret; returns the ten recovery codes."""
    if user_has_totp(user=user):
        raise MfaConflict()
    stored = caches["shared"].get(_setup_key(user))
    if stored is None:
        raise MfaSetupNotStarted()
    secret = get_mfa_adapter().decrypt(stored)
    if not lockout_guarded(
        request, email=user.email, check=lambda: validate_totp_code(secret, code or "")
    ):
        raise MfaCodeWrong(fields={"code": [Message.MFA_INVALID]})
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    caches["shared"].delete(_setup_key(user))
    security_event(action="auth.mfa_enabled", actor=user)
    _rotate_session(request)
    _notify(request, "mfa/email/totp_activated", user)
    return codes


def _verify_code(user: User, code: str) -> Authenticator | None:
    """The authenticator that accepts ``code`` (TOTP first, then an unused recovery
    code, which is then used up), or None."""
    for authenticator in Authenticator.objects.filter(
        user_id=user.pk,
        type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES],
    ).order_by("-type"):  # "totp" sorts after "recovery_codes"
        if authenticator.wrap().validate_code(code):
            authenticator.record_usage()
            return authenticator
    return None


@transaction.atomic
def totp_disable(*, request, user: User, code: str) -> None:
    """Turn MFA off, proven with a current TOTP or an unused recovery code."""
    if not user_has_totp(user=user):
        raise MfaNotEnabled()
    used: list[Authenticator] = []

    def check() -> bool:
        found = _verify_code(user, code or "")
        if found is not None:
            used.append(found)
        return found is not None

    if not lockout_guarded(request, email=user.email, check=check):
        raise MfaCodeWrong(fields={"code": [Message.MFA_INVALID]})
    if used[0].type == Authenticator.Type.RECOVERY_CODES:
        security_event(action="auth.recovery_code_used", actor=user)
    Authenticator.objects.filter(
        user_id=user.pk, type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    ).delete()
    security_event(action="auth.mfa_disabled", actor=user)
    _rotate_session(request)
    _notify(request, "mfa/email/totp_deactivated", user)


def mfa_verify_for_token(*, request, user: User, otp: str | None) -> None:
    """The second factor of ``auth/token/``: nothing to do without MFA; otherwise a
    current TOTP or an unused recovery code (used up by this call).

    Raises ``MfaRequired`` (no ``otp``) or ``MfaInvalid`` (wrong or used), both 401.
    """
    if not user_has_totp(user=user):
        return
    if not otp:
        raise MfaRequired()
    used: list[Authenticator] = []

    def check() -> bool:
        found = _verify_code(user, otp)
        if found is not None:
            used.append(found)
        return found is not None

    if not lockout_guarded(request, email=user.email, check=check):
        security_event(action="auth.mfa_failed", actor=user)
        raise MfaInvalid()
    if used[0].type == Authenticator.Type.RECOVERY_CODES:
        security_event(action="auth.recovery_code_used", actor=user)


def _rotate_session(request) -> None:
    session = getattr(getattr(request, "_request", request), "session", None)
    if session is not None and session.session_key:
        session.cycle_key()  # privilege change: a new session id


def _notify(request, template_prefix: str, user: User) -> None:
    from allauth.core import context

    django_request = getattr(request, "_request", request)
    with context.request_context(django_request):
        get_account_adapter(django_request).send_notification_mail(
            template_prefix, user, email=user.email
        )


# A tenant's MFA rule ------------------------------------------------------------------------


@transaction.atomic
def tenant_mfa_requirement_set(*, tenant, required: bool, acting_user: User, request=None):
    """Require (or stop requiring) TOTP for every member of ``tenant``. An owner who
    requires it must have it: they would otherwise lock themselves into the set-up.
    Requiring it is an entitlement (402 ``feature_not_in_plan``); lifting it never is."""
    from billing.entitlements import Feature, require_feature

    if required:
        require_feature(tenant, Feature.MFA_ENFORCEMENT)
    if required and not user_has_totp(user=acting_user):
        raise OwnMfaFirst()
    policy, _ = (
        TenantSecurityPolicy.objects.for_tenant(tenant)
        .select_for_update()
        .get_or_create(tenant=tenant)
    )
    if policy.mfa_required != required:
        policy.mfa_required = required
        policy.save(update_fields=["mfa_required", "updated"])
        security_event(
            action="security.mfa_requirement_changed",
            actor=acting_user,
            changes={"mfa_required": required},
        )
    if request is not None:
        _rotate_session(request)
    return policy


# Email verification at sign-up -------------------------------------------------------------


def email_verification_start(*, user: User, tenant, base_url: str = "") -> EmailAddress:
    """Record the owner's address as unverified and mail the one-click verification link
    for ``tenant``'s host (``base_url``, e.g. ``http://acme.localhost:8000/``; default its
    primary domain over https) after commit. Call inside the sign-up transaction."""
    from shared_apps.accounts.tasks import send_email_verification

    address, _ = EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"primary": True, "verified": False}
    )
    if not address.verified:
        address_id, tenant_id = address.pk, tenant.pk
        transaction.on_commit(
            lambda: send_email_verification.delay(address_id, tenant_id, base_url)
        )
    return address
