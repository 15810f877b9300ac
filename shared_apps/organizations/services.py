"""Membership and invitation writes (public schema rows, audited in the tenant's schema).

Rules: admins and owners manage members; only owners grant, change or remove the owner
role; nobody raises their own role; a tenant always keeps at least one owner.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from billing.limits import Limit, limit_check
from billing.seats import seats_record
from shared_apps.accounts.models import User
from shared_apps.core.errors import Conflict, ErrorCode, TesseraError, ValidationFailed
from shared_apps.organizations.models import (
    Organization,
    OrganizationInvitation,
    OrganizationOwner,
    OrganizationUser,
)
from shared_apps.organizations.roles import Role
from shared_apps.organizations.selectors import invitation_token_hash
from tenant_apps.audit.services import audit_record
from tenant_apps.integrations.events import EventType, event_record
from tenants.models import Tenant

INVITATION_LIFETIME = timedelta(days=7)


class RoleForbidden(TesseraError):
    code = ErrorCode.PERMISSION_DENIED
    http_status = 403
    message = "Your role does not allow this change."


class LastOwner(Conflict):
    code = ErrorCode.LAST_OWNER
    message = "A tenant must keep at least one owner."


class AlreadyMember(Conflict):
    code = ErrorCode.ALREADY_MEMBER
    message = "This person is already a member."


class InvitationInvalid(TesseraError):
    code = ErrorCode.INVITATION_INVALID
    http_status = 400
    message = "This invitation is invalid, used or expired."


def _role_of(tenant: Tenant, user: User) -> Role:
    membership = OrganizationUser.objects.for_tenant(tenant).get(user=user)
    return Role(membership.role)


def _other_owners(membership: OrganizationUser) -> int:
    return (
        OrganizationUser.objects.filter(organization_id=membership.organization_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .count()
    )


def _lock_memberships(tenant: Tenant) -> None:
    """Serialise membership changes of one tenant (so two demotions can't both pass)."""
    list(
        OrganizationUser.objects.for_tenant(tenant).select_for_update().values_list("pk", flat=True)
    )


def _hand_over_ownership(membership: OrganizationUser) -> None:
    """django-organizations keeps one OrganizationOwner row; move it off ``membership``."""
    owner = OrganizationOwner.objects.filter(organization_user=membership).first()
    if owner is None:
        return
    successor = (
        OrganizationUser.objects.filter(organization_id=membership.organization_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .order_by("created")
        .first()
    )
    if successor is not None:
        owner.organization_user = successor
        owner.save(update_fields=["organization_user", "modified"])


@transaction.atomic
def member_change_role(
    *, tenant: Tenant, membership: OrganizationUser, role: str, acting_user: User
) -> OrganizationUser:
    _lock_memberships(tenant)
    membership.refresh_from_db()
    new, current = Role(role), Role(membership.role)
    actor_role = _role_of(tenant, acting_user)
    if new == current:
        return membership
    if membership.user_id == acting_user.pk and new.rank > current.rank:
        raise RoleForbidden("You cannot raise your own role.")
    if Role.OWNER in (new, current) and actor_role != Role.OWNER:
        raise RoleForbidden("Only an owner can grant or change the owner role.")
    if current == Role.OWNER and _other_owners(membership) == 0:
        raise LastOwner()
    if current == Role.OWNER:
        _hand_over_ownership(membership)
    membership.role = new
    membership.save(update_fields=["role", "modified"])
    audit_record(
        actor=acting_user,
        action="member.role_changed",
        target=membership,
        changes={"from": current.value, "to": new.value, "user": membership.user_id},
    )
    seats_record(tenant=tenant)  # per-seat plans: a viewer takes no paid seat
    return membership


@transaction.atomic
def member_remove(*, tenant: Tenant, membership: OrganizationUser, acting_user: User) -> None:
    _lock_memberships(tenant)
    membership.refresh_from_db()
    removing_self = membership.user_id == acting_user.pk
    actor_role = _role_of(tenant, acting_user)
    if not removing_self and not actor_role.at_least(Role.ADMIN):
        raise RoleForbidden()
    if membership.role == Role.OWNER and not removing_self and actor_role != Role.OWNER:
        raise RoleForbidden("Only an owner can remove an owner.")
    if membership.role == Role.OWNER and _other_owners(membership) == 0:
        raise LastOwner()
    _hand_over_ownership(membership)
    pk, user_id, role = membership.pk, membership.user_id, membership.role
    OrganizationUser.objects.filter(pk=pk).delete()
    audit_record(
        actor=acting_user,
        action="member.removed",
        object_type="organizations.organizationuser",
        object_id=pk,
        changes={"user": user_id, "role": role},
    )
    seats_record(tenant=tenant)
    event_record(EventType.MEMBER_REMOVED, membership)


@transaction.atomic
def organization_rename(*, tenant: Tenant, name: str, acting_user: User) -> Tenant:
    """Rename the organisation (its tenant and its django-organizations row together)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed(fields={"name": ["Give a name of 1 to 200 characters."]})
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    previous = tenant.name
    if name == previous:
        return tenant
    tenant.name = name
    tenant.save(update_fields=["name", "updated"])
    Organization.objects.filter(pk=tenant.organization_id).update(name=name)
    audit_record(
        actor=acting_user,
        action="organization.renamed",
        object_type="tenants.tenant",
        object_id=tenant.pk,
        changes={"from": previous, "to": name},
    )
    return tenant


# Invitations --------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return invitation_token_hash(token)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: OrganizationInvitation
    token: str  # shown once (in the email); only its hash is stored


@transaction.atomic
def invitation_create(
    *, tenant: Tenant, email: str, role: str, acting_user: User, accept_url: str
) -> IssuedInvitation:
    """Invite ``email`` with ``role``; the email is sent by a Celery task after commit.
    Inviting the same address again replaces the pending invitation (new token)."""
    from shared_apps.organizations.tasks import send_invitation_email

    email = email.strip().lower()
    role_wanted, actor_role = Role(role), _role_of(tenant, acting_user)
    if role_wanted.rank > actor_role.rank:
        raise RoleForbidden("You cannot invite someone to a role above your own.")
    if OrganizationUser.objects.for_tenant(tenant).filter(user__email__iexact=email).exists():
        raise AlreadyMember(fields={"email": [AlreadyMember.message]})
    OrganizationInvitation.objects.for_tenant(tenant).filter(
        invitee_identifier__iexact=email, accepted_at__isnull=True
    ).delete()
    pending = (
        OrganizationInvitation.objects.for_tenant(tenant)
        .filter(
            accepted_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .count()
    )
    limit_check(tenant=tenant, limit=Limit.MEMBERS, adding=1 + pending)

    token = secrets.token_urlsafe(32)
    invitation = OrganizationInvitation.objects.create(
        organization_id=tenant.organization_id,
        invitee_identifier=email,
        invited_by=acting_user,
        role=role_wanted,
        token_hash=_hash(token),
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    audit_record(
        actor=acting_user,
        action="invitation.created",
        target=invitation,
        changes={"email": email, "role": role_wanted.value},
    )
    invitation_id = invitation.pk
    transaction.on_commit(
        lambda: send_invitation_email.delay(invitation_id, f"{accept_url}?token={token}")
    )
    return IssuedInvitation(invitation=invitation, token=token)


@transaction.atomic
def invitation_revoke(*, invitation: OrganizationInvitation, acting_user: User) -> None:
    pk, email = invitation.pk, invitation.invitee_identifier
    invitation.delete()
    audit_record(
        actor=acting_user,
        action="invitation.revoked",
        object_type="organizations.organizationinvitation",
        object_id=pk,
        changes={"email": email},
    )


@transaction.atomic
def invitation_accept(
    *,
    tenant: Tenant,
    token: str,
    password: str,
    full_name: str = "",
    authenticated_user: User | None = None,
) -> OrganizationUser:
    """Join ``tenant`` with an invitation token. Creates the account if the email has
    none; an existing account must prove itself (signed in, or its password)."""
    invitation = (
        OrganizationInvitation.objects.for_tenant(tenant)
        .select_for_update()
        .filter(token_hash=_hash(token or ""))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise InvitationInvalid(fields={"token": [InvitationInvalid.message]})
    email = invitation.invitee_identifier
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        try:
            validate_password(password, user=User(email=email))
        except DjangoValidationError as exc:
            raise ValidationFailed(fields={"password": list(exc.messages)}) from exc
        user = User.objects.create_user(email=email, password=password, full_name=full_name)
    elif authenticated_user != user and not (user.is_active and user.check_password(password)):
        raise InvitationInvalid(
            "This email already has an account: sign in or give its password.",
            fields={"password": ["Incorrect password for the invited account."]},
        )
    if OrganizationUser.objects.for_tenant(tenant).filter(user=user).exists():
        raise AlreadyMember()
    limit_check(tenant=tenant, limit=Limit.MEMBERS)
    membership = OrganizationUser.objects.create(
        organization_id=tenant.organization_id, user=user, role=invitation.role
    )
    invitation.invitee = user
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["invitee", "accepted_at", "modified"])
    audit_record(
        actor=user,
        action="invitation.accepted",
        target=membership,
        changes={"email": email, "role": invitation.role},
    )
    seats_record(tenant=tenant)
    event_record(EventType.MEMBER_JOINED, membership)
    return membership
