"""allauth's forms with this project's rules: the login lockout on every form that takes a
password or a code, and password reset for members of this tenant only."""

from __future__ import annotations

from allauth.account.forms import ChangePasswordForm, ResetPasswordForm
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from allauth.mfa.totp.forms import ActivateTOTPForm
from django import forms
from django.core.exceptions import ValidationError

from shared_apps.core.lockout import (
    LOCKED_OUT_FORM_CODE,
    LOCKED_OUT_MESSAGE,
    LoginLockedOut,
    lockout_check,
    lockout_record,
)
from tenant_apps.audit.actions import AuditAction


def _guarded_clean(form: forms.Form, field: str, email: str, clean):
    """Run allauth's ``clean_<field>`` under the lockout of ``email``'s account."""
    request = getattr(form, "request", None) or _current_request()
    try:
        lockout_check(request, email=email)
    except LoginLockedOut as exc:
        raise ValidationError(LOCKED_OUT_MESSAGE, code=LOCKED_OUT_FORM_CODE) from exc
    try:
        value = clean()
    except ValidationError:
        lockout_record(request, email=email, succeeded=False)
        _record_failure(form, field)
        raise
    lockout_record(request, email=email, succeeded=True)
    return value


def _current_request():
    from allauth.core import context

    return context.request


def _record_failure(form: forms.Form, field: str) -> None:
    from shared_apps.accounts.services import security_event

    user = getattr(form, "user", None)
    action = (
        AuditAction.AUTH_MFA_FAILED if field == "code" else AuditAction.AUTH_PASSWORD_CHECK_FAILED
    )
    security_event(action=action, acting_user=user)


class TenantResetPasswordForm(ResetPasswordForm):
    """Mails only active members of this tenant (platform superusers on the public
    host); anyone else gets the same page and no mail."""

    users: list

    def clean_email(self) -> str:
        from shared_apps.accounts.adapter import may_sign_in_here

        email = super().clean_email()
        request = _current_request()
        self.users = [user for user in self.users if may_sign_in_here(request, user)]
        return email


class LockedChangePasswordForm(ChangePasswordForm):
    def clean_oldpassword(self) -> str:
        assert self.user is not None
        return _guarded_clean(self, "oldpassword", self.user.email, super().clean_oldpassword)


class LockedAuthenticateForm(AuthenticateForm):
    """The TOTP step of the web login (a TOTP or an unused recovery code)."""

    def clean_code(self) -> str:
        return _guarded_clean(self, "code", self.user.email, super().clean_code)


class LockedReauthenticateForm(ReauthenticateForm):
    def clean_code(self) -> str:
        return _guarded_clean(self, "code", self.user.email, super().clean_code)


class LockedActivateTOTPForm(ActivateTOTPForm):
    def clean_code(self) -> str:
        return _guarded_clean(self, "code", self.user.email, super().clean_code)
