"""Security events from Django's and allauth's signals into the tenant's audit log.

Connected in ``AccountsConfig.ready``. Failed logins and lockouts are recorded where the
password is checked (``shared_apps.core.lockout.login_authenticate``), which also sees
the refused non-members no signal reports.
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from shared_apps.accounts.services import security_event
from tenant_apps.audit.actions import AuditAction


@receiver(auth_signals.user_logged_in, dispatch_uid="accounts.audit.login")
def _logged_in(sender, request, user, **kwargs) -> None:
    security_event(action=AuditAction.AUTH_LOGIN, acting_user=user)


@receiver(auth_signals.user_logged_out, dispatch_uid="accounts.audit.logout")
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        security_event(action=AuditAction.AUTH_LOGOUT, acting_user=user)


@receiver(account_signals.password_reset, dispatch_uid="accounts.audit.password_reset")
def _password_reset(sender, request, user, **kwargs) -> None:
    security_event(action=AuditAction.AUTH_PASSWORD_RESET, acting_user=user)


@receiver(account_signals.password_changed, dispatch_uid="accounts.audit.password_changed")
@receiver(account_signals.password_set, dispatch_uid="accounts.audit.password_set")
def _password_changed(sender, request, user, **kwargs) -> None:
    security_event(action=AuditAction.AUTH_PASSWORD_CHANGED, acting_user=user)


@receiver(mfa_signals.authenticator_added, dispatch_uid="accounts.audit.mfa_added")
def _mfa_added(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.TOTP:
        # allauth sends this signal after the request's transaction has committed, when
        # the session is already saved and its cookie set: rotating the key here would
        # sign the person out. The API's enrolment rotates in the service instead.
        security_event(action=AuditAction.AUTH_MFA_ENABLED, acting_user=user)


@receiver(mfa_signals.authenticator_removed, dispatch_uid="accounts.audit.mfa_removed")
def _mfa_removed(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.TOTP:
        security_event(action=AuditAction.AUTH_MFA_DISABLED, acting_user=user)


@receiver(mfa_signals.authenticator_used, dispatch_uid="accounts.audit.mfa_used")
def _mfa_used(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        security_event(action=AuditAction.AUTH_RECOVERY_CODE_USED, acting_user=user)
