"""``support_access`` for the banner (templates/base.html) and ``support_policy`` for the
owners' switch on the settings page (templates/support/_settings.html)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def _policy(request: HttpRequest) -> dict:
    from shared_apps.organizations.roles import Role
    from shared_apps.support.services import support_access_allowed
    from tenants.context import current_tenant
    from tenants.permissions import current_membership

    membership = current_membership(request)
    return {
        "allowed": support_access_allowed(tenant=current_tenant()),
        "can_change": membership is not None and membership.role == Role.OWNER,
    }


def support(request: HttpRequest) -> dict:
    from tenants.context import current_tenant_or_none

    context: dict = {"support_access": getattr(request, "support_access", None)}
    user = getattr(request, "user", None)
    if current_tenant_or_none() is not None and user is not None and user.is_authenticated:
        context["support_policy"] = SimpleLazyObject(lambda: _policy(request))
    else:
        context["support_policy"] = None
    return context
