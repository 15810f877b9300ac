"""The gate every tenant API goes through (it is DRF's default permission class).

A view is tenant-scoped by default: it needs an authenticated, active member of the
request's tenant, viewers may only read, and a suspended or canceled tenant is
read-only. A view that must be reachable without membership says so with
``PublicEndpoint`` (the deliberately named unsafe path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from shared_apps.core.errors import (
    NotAMember,
    RoleRequired,
    TenantSuspended,
)
from shared_apps.organizations.roles import Role
from shared_apps.organizations.selectors import Membership, membership_for
from tenants.authentication import remember_membership, request_tenant

if TYPE_CHECKING:
    from tenants.models import Tenant

_UNSET = object()


def current_membership(request) -> Membership | None:
    """The request user's membership in the request's tenant (looked up at most once)."""
    django_request = getattr(request, "_request", request)
    membership = getattr(django_request, "tessera_membership", _UNSET)
    if membership is _UNSET:
        tenant = request_tenant(request)
        membership = (
            membership_for(user_id=request.user.pk, tenant=tenant)
            if tenant is not None and request.user.is_authenticated
            else None
        )
        remember_membership(request, membership)
    return membership  # type: ignore[return-value]


def authorize(
    *,
    tenant: Tenant,
    membership: Membership | None,
    is_read: bool,
    needed: Role,
    writes_allowed_when_read_only: bool = False,
) -> None:
    """The one access rule for tenant data, shared by the API gate and the web pages.

    Raises ``NotAMember`` (403), ``RoleRequired`` (403) or ``TenantSuspended`` (402 for a
    write on a read-only tenant). Authentication (who the user is) is the caller's.
    """
    if membership is None:
        raise NotAMember()
    if not membership.role.at_least(needed):
        raise RoleRequired(Role(needed).label.lower())
    if not is_read and tenant.is_read_only and not writes_allowed_when_read_only:
        raise TenantSuspended()


class IsTenantMember(BasePermission):
    """Active member of this tenant with the role the view asks for.

    Views set ``read_role`` (default viewer) and ``write_role`` (default member), or
    ``action_roles`` per viewset action;
    ``writes_allowed_when_read_only = True`` lets a view accept writes from a suspended
    tenant (billing endpoints, so an owner can pay).
    """

    def has_permission(self, request, view) -> bool:
        tenant = request_tenant(request)
        if tenant is None:
            raise exceptions.NotFound()
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        is_read = request.method in SAFE_METHODS
        needed = (
            getattr(view, "action_roles", {}).get(getattr(view, "action", None))
            or getattr(view, "read_role" if is_read else "write_role", None)
            or (Role.VIEWER if is_read else Role.MEMBER)
        )
        authorize(
            tenant=tenant,
            membership=current_membership(request),
            is_read=is_read,
            needed=needed,
            writes_allowed_when_read_only=getattr(view, "writes_allowed_when_read_only", False),
        )
        return True


class PublicEndpoint(BasePermission):
    """Deliberately open: sign-up, token issue, health. Never use on tenant data."""

    def has_permission(self, request, view) -> bool:
        return True
