"""Reads about memberships. The one place that answers "is this user a member here?"."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from billing.limits import Limit, usage_counter
from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser
from shared_apps.organizations.roles import Role

if TYPE_CHECKING:
    from shared_apps.accounts.models import User
    from tenants.models import Tenant


@dataclass(frozen=True)
class Membership:
    id: int
    user: User
    role: Role


def membership_for(*, user_id: int, tenant: Tenant) -> Membership | None:
    """The active membership of ``user_id`` in ``tenant``'s organisation, or None.

    One query: the membership, its user and the organisation's active flag together,
    so authentication and the membership check share it.
    """
    rows = (
        OrganizationUser.objects.for_tenant(tenant)
        .select_related("user")
        .filter(
            user_id=user_id,
            organization__is_active=True,
            user__is_active=True,
        )
        .order_by()[:1]  # unique (user, organisation): no ORDER BY to build or sort
    )
    row = next(iter(rows), None)
    if row is None:
        return None
    return Membership(id=row.pk, user=row.user, role=Role(row.role))


def member_list(*, tenant: Tenant):
    return (
        OrganizationUser.objects.for_tenant(tenant).select_related("user").order_by("user__email")
    )


def owner_emails(*, tenant: Tenant) -> list[str]:
    """The email addresses of the tenant's active owners (whom platform notices go to)."""
    return list(
        OrganizationUser.objects.for_tenant(tenant)
        .filter(role=Role.OWNER, user__is_active=True)
        .values_list("user__email", flat=True)
    )


@usage_counter(Limit.MEMBERS)
def member_count(tenant: Tenant) -> int:
    return OrganizationUser.objects.for_tenant(tenant).count()


def invitation_token_hash(token: str) -> str:
    """What is stored of an invitation token (the token itself is only in the email)."""
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_for_token(*, tenant: Tenant, token: str) -> OrganizationInvitation | None:
    """The invitation of ``tenant`` with ``token`` (pending or not), or None: a token of
    another tenant is unknown here."""
    if not token or len(token) > 200:
        return None
    return (
        OrganizationInvitation.objects.for_tenant(tenant)
        .select_related("organization", "invited_by")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )


def invitation_list(*, tenant: Tenant):
    """Pending and accepted invitations of ``tenant`` (revoked ones are deleted)."""
    return OrganizationInvitation.objects.for_tenant(tenant).select_related("invited_by")
