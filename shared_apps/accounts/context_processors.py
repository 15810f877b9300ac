"""Template context for the account reminders (used by templates/account/_*.html)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from shared_apps.accounts.selectors import email_verification_state


def account_state(request: HttpRequest) -> dict:
    """``email_verification``: the signed-in user's verification state (``verified``,
    ``deadline``, ``overdue``, ``remind``), looked up only when a template reads it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"email_verification": None}
    return {"email_verification": SimpleLazyObject(lambda: email_verification_state(user=user))}


def _mfa_requirement(request: HttpRequest) -> dict:
    from shared_apps.accounts.selectors import tenant_mfa_required, user_has_totp
    from shared_apps.organizations.roles import Role
    from tenants.permissions import current_membership

    tenant = getattr(request, "tenant", None)
    membership = current_membership(request) if tenant is not None else None
    return {
        "required": tenant_mfa_required(tenant=tenant),
        "can_change": membership is not None and membership.role == Role.OWNER,
        "own_mfa": user_has_totp(user=request.user),
    }


def mfa_requirement(request: HttpRequest) -> dict:
    """``mfa_requirement``: the tenant's rule for ``_mfa_requirement.html`` (lazy)."""
    if getattr(request, "tenant", None) is None or not request.user.is_authenticated:
        return {"mfa_requirement": None}
    return {"mfa_requirement": SimpleLazyObject(lambda: _mfa_requirement(request))}
