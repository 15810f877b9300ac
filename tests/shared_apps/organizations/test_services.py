"""shared_apps/organizations/services.py, the paths test_members_invitations.py leaves:
an unchanged role, an owner demoted while another owner stays, an admin removing an
owner, renaming the organisation, a weak password or a member accepting an invitation."""

from __future__ import annotations

import pytest

from shared_apps.accounts.models import User
from shared_apps.core.errors import ValidationFailed
from shared_apps.organizations import services
from shared_apps.organizations.models import (
    Organization,
    OrganizationInvitation,
    OrganizationOwner,
    OrganizationUser,
)
from shared_apps.organizations.roles import Role
from tenant_apps.audit.models import AuditEntry
from tenants.models import Tenant
from tests.factories import PASSWORD, MembershipFactory, UserFactory

ACCEPT_URL = "http://alpha.localhost/api/v1/invitations/accept/"


def membership(world, role: str) -> OrganizationUser:
    return OrganizationUser.objects.get(user=world.user(role))


def test_the_same_role_again_changes_and_audits_nothing(alpha, in_alpha):
    target = membership(alpha, Role.MEMBER)
    same = services.member_change_role(
        tenant=in_alpha, membership=target, role=Role.MEMBER, acting_user=alpha.user("admin")
    )
    assert same.role == Role.MEMBER
    assert not AuditEntry.objects.filter(action="member.role_changed").exists()


def test_an_owner_demoted_while_another_stays_hands_over_the_ownership(alpha, in_alpha):
    owner = membership(alpha, Role.OWNER)
    second = MembershipFactory(organization=in_alpha.organization, owner=True)

    services.member_change_role(
        tenant=in_alpha, membership=owner, role=Role.ADMIN, acting_user=second.user
    )

    assert OrganizationUser.objects.get(pk=owner.pk).role == Role.ADMIN
    org_owner = OrganizationOwner.objects.get(organization=in_alpha.organization)
    assert org_owner.organization_user_id == second.pk
    entry = AuditEntry.objects.get(action="member.role_changed")
    assert entry.changes == {"from": "owner", "to": "admin", "user": owner.user_id}


def test_an_admin_cannot_remove_an_owner(alpha, in_alpha):
    owner = membership(alpha, Role.OWNER)
    MembershipFactory(organization=in_alpha.organization, owner=True)  # not the last one
    with pytest.raises(services.RoleForbidden, match="Only an owner can remove an owner"):
        services.member_remove(tenant=in_alpha, membership=owner, acting_user=alpha.user("admin"))
    assert OrganizationUser.objects.filter(pk=owner.pk).exists()
    assert not AuditEntry.objects.filter(action="member.removed").exists()


def test_removing_the_ownership_holder_without_an_owner_role_left_keeps_no_stale_row(
    alpha, in_alpha
):
    """The OrganizationOwner row on a member whose role was lowered by hand (the Django
    admin): removing that member works, and the row goes with the membership."""
    owner = membership(alpha, Role.OWNER)
    OrganizationUser.objects.filter(pk=owner.pk).update(role=Role.MEMBER)
    services.member_remove(tenant=in_alpha, membership=owner, acting_user=alpha.user("admin"))
    assert not OrganizationUser.objects.filter(pk=owner.pk).exists()
    assert not OrganizationOwner.objects.filter(organization=in_alpha.organization).exists()
    assert AuditEntry.objects.get(action="member.removed").changes == {
        "user": owner.user_id,
        "role": Role.MEMBER,
    }


def test_rename_the_organisation(alpha, in_alpha):
    owner = alpha.user("owner")
    for bad in ("   ", "x" * 201):
        with pytest.raises(ValidationFailed) as refused:
            services.organization_rename(tenant=in_alpha, name=bad, acting_user=owner)
        assert set(refused.value.fields) == {"name"}
    services.organization_rename(tenant=in_alpha, name=" Alpha Ltd ", acting_user=owner)
    assert not AuditEntry.objects.filter(action="organization.renamed").exists()  # unchanged

    renamed = services.organization_rename(tenant=in_alpha, name=" Alpha Group ", acting_user=owner)

    assert renamed.name == "Alpha Group"
    assert Tenant.objects.get(pk=in_alpha.pk).name == "Alpha Group"
    assert Organization.objects.get(pk=in_alpha.organization_id).name == "Alpha Group"
    entry = AuditEntry.objects.get(action="organization.renamed")
    assert entry.changes == {"from": "Alpha Ltd", "to": "Alpha Group"}
    assert entry.actor_id == owner.pk


def _invite(world, tenant, email: str) -> services.IssuedInvitation:
    return services.invitation_create(
        tenant=tenant,
        email=email,
        role=Role.MEMBER,
        acting_user=world.user("owner"),
        accept_url=ACCEPT_URL,
    )


def test_accepting_with_a_weak_password_creates_nothing(alpha, in_alpha):
    issued = _invite(alpha, in_alpha, "weak@example.test")
    with pytest.raises(ValidationFailed) as refused:
        services.invitation_accept(tenant=in_alpha, token=issued.token, password="123")
    assert set(refused.value.fields) == {"password"}
    assert not User.objects.filter(email="weak@example.test").exists()
    assert OrganizationInvitation.objects.get(pk=issued.invitation.pk).accepted_at is None


def test_a_member_accepting_an_invitation_is_already_a_member(alpha, in_alpha):
    issued = _invite(alpha, in_alpha, "twice@example.test")
    user = UserFactory(email="twice@example.test")
    MembershipFactory(organization=in_alpha.organization, user=user, viewer=True)
    with pytest.raises(services.AlreadyMember):
        services.invitation_accept(tenant=in_alpha, token=issued.token, password=PASSWORD)
    assert OrganizationUser.objects.get(user=user).role == Role.VIEWER
    assert OrganizationInvitation.objects.get(pk=issued.invitation.pk).accepted_at is None
