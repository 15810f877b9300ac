"""allauth adapters: what allauth asks the project, answered for tenant hosts.

* Who may sign in here: an active member of the request's tenant (on the public host:
  platform superusers, for the admin). A wrong password, an unknown email and a
  non-member get the same "wrong email or password" answer, and each is counted by the
  login lockout (``shared_apps.core.lockout``), which replaces allauth's own
  ``login_failed`` rate limit.
* Nobody signs up through allauth: tenants sign up on the public host
  (``tenants.provisioning``) and people join through invitations.
* Mail is rendered in the request (with the organisation's name) and sent by a Celery
  task after the transaction commits (``shared_apps.accounts.tasks``).
* TOTP secrets and recovery-code seeds are encrypted at rest (Fernet).
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from cryptography.fernet import Fernet
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from shared_apps.core.lockout import (
    LOCKED_OUT_FORM_CODE,
    LOCKED_OUT_MESSAGE,
    LoginLockedOut,
    login_authenticate,
)
from tenants.context import current_tenant_or_none

WRONG_CREDENTIALS = "The email address and/or password you specified are not correct."


def may_sign_in_here(request: HttpRequest | None, user) -> bool:
    """An active member of this tenant; on the public host, a platform superuser."""
    from shared_apps.organizations.selectors import membership_for

    if not user.is_active:
        return False
    tenant = current_tenant_or_none()
    if tenant is None:
        return bool(user.is_superuser)
    return membership_for(user_id=user.pk, tenant=tenant) is not None


class TenantAccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_password_mismatch": WRONG_CREDENTIALS,
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def authenticate(self, request: HttpRequest, **credentials: Any):
        """Password check under the lockout, accepting only who may sign in here
        (failures and lockouts are audited by ``login_authenticate``)."""
        try:
            return login_authenticate(
                request,
                email=str(credentials.get("email") or ""),
                password=str(credentials.get("password") or ""),
                accept=lambda candidate: may_sign_in_here(request, candidate),
            )
        except LoginLockedOut as exc:
            raise forms.ValidationError(LOCKED_OUT_MESSAGE, code=LOCKED_OUT_FORM_CODE) from exc

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """A sign-in within ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` counts as recent: a member
        sent to set up MFA right after logging in is not asked for the password again."""
        from allauth.account import app_settings as account_settings
        from allauth.account.internal.flows.login import get_authentication_records

        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        request = self.request
        if request is None or not request.user.is_authenticated:
            return True
        records = get_authentication_records(request, request.user)
        latest = max((float(record.get("at", 0)) for record in records), default=0.0)
        return time.time() - latest >= account_settings.REAUTHENTICATION_TIMEOUT

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        from shared_apps.accounts.selectors import mfa_setup_required

        if mfa_setup_required(user=request.user, tenant=current_tenant_or_none()):
            return "/accounts/mfa/totp/activate/"
        return super().get_login_redirect_url(request)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        from shared_apps.accounts.tasks import send_account_email

        request = self.request
        tenant = current_tenant_or_none()
        ctx = {
            "request": request,
            "email": email,
            "organization_name": tenant.name if tenant is not None else "Tessera",
            "host": request.get_host() if request is not None else "",
        }
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        html = next(
            (
                body
                for body, mimetype in getattr(message, "alternatives", [])
                if mimetype == "text/html"
            ),
            "",
        )
        payload = {
            "subject": message.subject,
            "body": message.body,
            "html": html,
            "to": list(message.to),
            "from_email": message.from_email,
        }
        transaction.on_commit(lambda: send_account_email.delay(payload))


def _fernet() -> Fernet:
    key = (
        settings.MFA_ENCRYPTION_KEY
        or base64.urlsafe_b64encode(
            hashlib.sha256(f"tessera-mfa:{settings.SECRET_KEY}".encode()).digest()
        ).decode()
    )
    return Fernet(key)


class TenantMFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return _fernet().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return _fernet().decrypt(encrypted_text.encode()).decode()

    def get_totp_label(self, user) -> str:
        return user.email

    def get_totp_issuer(self) -> str:
        tenant = current_tenant_or_none()
        issuer = settings.MFA_TOTP_ISSUER
        return f"{issuer} ({tenant.name})" if tenant is not None else issuer
