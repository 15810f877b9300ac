"""Members (roles, removal, last owner) and invitations (single-use, expiring tokens)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from shared_apps.accounts.models import User
from shared_apps.core.errors import ErrorCode, PlanLimitExceeded
from shared_apps.organizations import services
from shared_apps.organizations.models import (
    OrganizationInvitation,
    OrganizationOwner,
    OrganizationUser,
)
from shared_apps.organizations.tasks import send_invitation_email
from tenant_apps.audit.models import AuditEntry
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.support import bearer_client, error_of, host_client

ACCEPT_URL = "http://alpha.localhost/api/v1/invitations/accept/"


def membership(world, role: str) -> OrganizationUser:
    return OrganizationUser.objects.get(user=world.user(role))


# Roles and removal ---------------------------------------------------------------------------


def test_admin_changes_a_members_role_and_it_is_audited(alpha, in_alpha):
    target = membership(alpha, "member")
    services.member_change_role(
        tenant=in_alpha, membership=target, role="viewer", acting_user=alpha.user("admin")
    )
    assert OrganizationUser.objects.get(pk=target.pk).role == "viewer"
    entry = AuditEntry.objects.get(action="member.role_changed")
    assert entry.changes == {"from": "member", "to": "viewer", "user": target.user_id}


def test_nobody_raises_their_own_role(alpha, in_alpha):
    admin = membership(alpha, "admin")
    with pytest.raises(services.RoleForbidden, match="your own role"):
        services.member_change_role(
            tenant=in_alpha, membership=admin, role="owner", acting_user=alpha.user("admin")
        )


def test_only_owners_touch_the_owner_role(alpha, in_alpha):
    with pytest.raises(services.RoleForbidden):
        services.member_change_role(
            tenant=in_alpha,
            membership=membership(alpha, "member"),
            role="owner",
            acting_user=alpha.user("admin"),
        )
    with pytest.raises(services.RoleForbidden):
        services.member_change_role(
            tenant=in_alpha,
            membership=membership(alpha, "owner"),
            role="member",
            acting_user=alpha.user("admin"),
        )


def test_last_owner_can_be_neither_demoted_nor_removed(alpha, in_alpha):
    owner = membership(alpha, "owner")
    with pytest.raises(services.LastOwner):
        services.member_change_role(
            tenant=in_alpha, membership=owner, role="admin", acting_user=alpha.user("owner")
        )
    with pytest.raises(services.LastOwner):
        services.member_remove(tenant=in_alpha, membership=owner, acting_user=alpha.user("owner"))
    assert OrganizationUser.objects.get(pk=owner.pk).role == "owner"


def test_second_owner_lets_the_first_leave_and_takes_over_ownership(alpha, in_alpha):
    owner = membership(alpha, "owner")
    services.member_change_role(
        tenant=in_alpha,
        membership=membership(alpha, "admin"),
        role="owner",
        acting_user=alpha.user("owner"),
    )
    services.member_remove(tenant=in_alpha, membership=owner, acting_user=alpha.user("owner"))
    assert not OrganizationUser.objects.filter(pk=owner.pk).exists()
    org_owner = OrganizationOwner.objects.get(organization=in_alpha.organization)
    assert org_owner.organization_user.user == alpha.user("admin")


def test_member_can_leave_but_not_remove_others(alpha, in_alpha):
    with pytest.raises(services.RoleForbidden):
        services.member_remove(
            tenant=in_alpha,
            membership=membership(alpha, "viewer"),
            acting_user=alpha.user("member"),
        )
    services.member_remove(
        tenant=in_alpha, membership=membership(alpha, "member"), acting_user=alpha.user("member")
    )
    assert not OrganizationUser.objects.filter(
        user=alpha.user("member"), organization=in_alpha.organization
    ).exists()


def test_members_api(alpha):
    admin = bearer_client(alpha, "admin")
    target = membership(alpha, "viewer")
    changed = admin.patch(f"/api/v1/members/{target.pk}/", {"role": "member"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "member"
    bad = admin.patch(f"/api/v1/members/{target.pk}/", {"role": "emperor"}, format="json")
    assert bad.status_code == 400
    member = bearer_client(alpha, "member")
    denied = member.patch(f"/api/v1/members/{target.pk}/", {"role": "viewer"}, format="json")
    assert denied.status_code == 403
    owner_id = membership(alpha, "owner").pk
    last = bearer_client(alpha, "owner").delete(f"/api/v1/members/{owner_id}/")
    assert last.status_code == 409 and error_of(last)["code"] == "last_owner"
    assert admin.delete(f"/api/v1/members/{target.pk}/").status_code == 204


# Invitations -----------------------------------------------------------------------------------


def test_invitation_is_emailed_after_commit_and_accepted_once(
    alpha, in_alpha, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        issued = services.invitation_create(
            tenant=in_alpha,
            email="New.Person@Example.test",
            role="member",
            acting_user=alpha.user("admin"),
            accept_url=ACCEPT_URL,
        )
    assert len(callbacks) == 1  # the email task is queued only once the row is committed
    invitation = issued.invitation
    assert invitation.invitee_identifier == "new.person@example.test"
    assert invitation.token_hash and issued.token not in invitation.token_hash

    assert send_invitation_email(invitation.pk, f"{ACCEPT_URL}?token={issued.token}") is True
    assert len(mail.outbox) == 1 and issued.token in mail.outbox[0].body
    assert mail.outbox[0].to == ["new.person@example.test"]

    membership_ = services.invitation_accept(
        tenant=in_alpha, token=issued.token, password=PASSWORD, full_name="New Person"
    )
    assert membership_.role == "member" and membership_.user.full_name == "New Person"
    assert User.objects.get(email="new.person@example.test").check_password(PASSWORD)
    with pytest.raises(services.InvitationInvalid):
        services.invitation_accept(tenant=in_alpha, token=issued.token, password=PASSWORD)


def test_expired_and_foreign_tokens_are_refused(alpha, beta, in_alpha):
    issued = services.invitation_create(
        tenant=in_alpha,
        email="late@example.test",
        role="viewer",
        acting_user=alpha.user("owner"),
        accept_url=ACCEPT_URL,
    )
    with pytest.raises(services.InvitationInvalid):  # alpha's token on beta
        services.invitation_accept(tenant=beta.tenant, token=issued.token, password=PASSWORD)
    OrganizationInvitation.objects.filter(pk=issued.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(services.InvitationInvalid):
        services.invitation_accept(tenant=in_alpha, token=issued.token, password=PASSWORD)
    assert not User.objects.filter(email="late@example.test").exists()


def test_existing_account_must_prove_itself(alpha, in_alpha):
    existing = UserFactory(email="known@example.test")
    issued = services.invitation_create(
        tenant=in_alpha,
        email=existing.email,
        role="member",
        acting_user=alpha.user("owner"),
        accept_url=ACCEPT_URL,
    )
    with pytest.raises(services.InvitationInvalid):
        services.invitation_accept(tenant=in_alpha, token=issued.token, password="wrong-password")
    joined = services.invitation_accept(tenant=in_alpha, token=issued.token, password=PASSWORD)
    assert joined.user == existing


def test_invite_rules(alpha, in_alpha):
    with pytest.raises(services.RoleForbidden):
        services.invitation_create(
            tenant=in_alpha,
            email="boss@example.test",
            role="owner",
            acting_user=alpha.user("admin"),
            accept_url=ACCEPT_URL,
        )
    with pytest.raises(services.AlreadyMember):
        services.invitation_create(
            tenant=in_alpha,
            email="member@alpha.test",
            role="member",
            acting_user=alpha.user("admin"),
            accept_url=ACCEPT_URL,
        )


def test_member_limit_counts_pending_invitations(alpha, in_alpha):
    plan = in_alpha.plan
    plan.max_members = 5  # alpha has 4 members
    plan.save(update_fields=["max_members"])
    services.invitation_create(
        tenant=in_alpha,
        email="fifth@example.test",
        role="member",
        acting_user=alpha.user("owner"),
        accept_url=ACCEPT_URL,
    )
    with pytest.raises(PlanLimitExceeded):
        services.invitation_create(
            tenant=in_alpha,
            email="sixth@example.test",
            role="member",
            acting_user=alpha.user("owner"),
            accept_url=ACCEPT_URL,
        )


def test_invitation_api(alpha, beta):
    admin = bearer_client(alpha, "admin")
    created = admin.post(
        "/api/v1/invitations/", {"email": "api@example.test", "role": "viewer"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["status"] == "pending" and created.json()["email"] == "api@example.test"
    assert bearer_client(alpha, "member").get("/api/v1/invitations/").status_code == 403
    listed = admin.get("/api/v1/invitations/").json()["results"]
    assert [i["email"] for i in listed] == ["api@example.test"]
    bad = host_client(alpha.host).post(
        "/api/v1/invitations/accept/", {"token": "nope", "password": PASSWORD}, format="json"
    )
    assert bad.status_code == 400 and error_of(bad)["code"] == "invitation_invalid"
    assert admin.delete(f"/api/v1/invitations/{listed[0]['id']}/").status_code == 204
    assert admin.get("/api/v1/invitations/").json()["results"] == []


def test_accept_over_the_api_then_sign_in(alpha, in_alpha):
    issued = services.invitation_create(
        tenant=in_alpha,
        email="joiner@example.test",
        role="member",
        acting_user=alpha.user("owner"),
        accept_url=ACCEPT_URL,
    )
    from django.db import connection

    connection.set_schema_to_public()
    client = host_client(alpha.host)
    response = client.post(
        "/api/v1/invitations/accept/", {"token": issued.token, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201 and response.json()["role"] == "member"
    token = client.post(
        "/api/v1/auth/token/", {"email": "joiner@example.test", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 200


def test_deleting_a_user_keeps_the_tenant_audit_trail(alpha, in_alpha):
    user = UserFactory()
    MembershipFactory(organization=in_alpha.organization, user=user)
    AuditEntry.objects.create(actor_id=user.pk, action="x", object_type="y", object_id="1")
    from django.db import connection

    connection.set_schema_to_public()
    user_id = user.pk
    user.delete()  # from the public schema, as the platform admin would
    connection.set_tenant(in_alpha)
    assert AuditEntry.objects.get(action="x").actor_id == user_id


def test_error_code_constant_for_roles(alpha):
    response = bearer_client(alpha, "viewer").post(
        "/api/v1/invitations/", {"email": "a@b.test"}, format="json"
    )
    assert error_of(response)["code"] == ErrorCode.PERMISSION_DENIED
