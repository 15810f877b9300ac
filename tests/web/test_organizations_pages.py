"""Team, settings and invitation pages (shared_apps/organizations/pages.py), billing page
(billing/pages.py) and the invitation email (shared_apps/organizations/tasks.py)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from shared_apps.accounts.models import User
from shared_apps.organizations import services
from shared_apps.organizations.models import (
    Organization,
    OrganizationInvitation,
    OrganizationUser,
)
from tenant_apps.audit.models import AuditEntry
from tenants.models import Tenant, TenantStatus
from tests.factories import PASSWORD, PlanFactory, UserFactory
from tests.support import host_client, session_client
from tests.web.conftest import csp_of, link_in


def membership(world, role):
    return OrganizationUser.objects.get(
        user=world.user(role), organization_id=world.tenant.organization_id
    )


def invite(world, email="new.person@example.test", role="member", by="admin"):
    connection.set_tenant(world.tenant)
    try:
        return services.invitation_create(
            tenant=world.tenant,
            email=email,
            role=role,
            acting_user=world.user(by),
            accept_url=f"http://{world.host}/invitations/accept/",
        )
    finally:
        connection.set_schema_to_public()


# Team --------------------------------------------------------------------------------------


def test_everyone_sees_the_members_but_only_admins_see_invitations(alpha, page_client):
    member_view = page_client("member").get("/app/team/")
    html = member_view.content.decode()
    assert "viewer@alpha.test" in html and "owner@alpha.test" in html
    assert 'id="invitation-table"' not in html and 'id="invite-form"' not in html
    assert 'name="role"' not in html  # no role controls for a member
    admin_view = page_client("admin").get("/app/team/").content.decode()
    assert 'id="invite-form"' in admin_view
    viewer = membership(alpha, "viewer")
    assert f'action="/app/team/members/{viewer.pk}/role/"' in admin_view


def test_an_admin_invites_and_the_email_links_to_the_invitation_page(
    alpha, page_client, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client("admin").post(
            "/app/team/invite/", {"email": "New.Person@Example.test", "role": "viewer"}
        )
    assert response.status_code == 302
    invitation = OrganizationInvitation.objects.get(invitee_identifier="new.person@example.test")
    assert invitation.role == "viewer"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "You're invited to Alpha Ltd on Tessera"
    link = link_in(message.body, alpha.host)
    assert urlsplit(link).path == "/invitations/accept/"
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert "Alpha Ltd" in html and link.replace("&", "&amp;") in html
    assert "admin@alpha.test invited you to join Alpha Ltd on Tessera as viewer." in message.body


def test_invite_errors_are_shown_on_the_form(alpha, page_client):
    client = page_client("admin")
    taken = client.post("/app/team/invite/", {"email": "member@alpha.test", "role": "member"})
    assert taken.status_code == 409
    assert "This person is already a member." in taken.content.decode()
    above = client.post("/app/team/invite/", {"email": "boss@x.test", "role": "owner"})
    assert above.status_code == 403
    assert "You cannot invite someone to a role above your own." in above.content.decode()
    bad = client.post("/app/team/invite/", {"email": "nope", "role": "god"})
    assert bad.status_code == 400
    assert not OrganizationInvitation.objects.exists()


def test_the_members_plan_limit_is_a_402_on_the_invite_form(alpha, page_client):
    tenant = alpha.tenant
    tenant.plan = PlanFactory(code="duo", max_members=4)
    tenant.save(update_fields=["plan"])
    response = page_client("owner").post(
        "/app/team/invite/", {"email": "five@x.test", "role": "member"}
    )
    assert response.status_code == 402
    assert "Your Duo plan allows 4 members; upgrade to add more." in response.content.decode()
    assert not OrganizationInvitation.objects.exists()


def test_roles_change_by_the_services_rules(alpha, page_client):
    target = membership(alpha, "member")
    client = page_client("admin")
    assert (
        client.post(f"/app/team/members/{target.pk}/role/", {"role": "viewer"}).status_code == 302
    )
    assert OrganizationUser.objects.get(pk=target.pk).role == "viewer"
    owner = membership(alpha, "owner")
    refused = client.post(f"/app/team/members/{owner.pk}/role/", {"role": "member"})
    assert refused.status_code == 403
    assert "Only an owner can grant or change the owner role." in refused.content.decode()
    last = page_client("owner").post(f"/app/team/members/{owner.pk}/role/", {"role": "admin"})
    assert last.status_code == 409
    assert "A tenant must keep at least one owner." in last.content.decode()
    assert client.post(f"/app/team/members/{target.pk}/role/", {"role": "god"}).status_code == 400
    assert OrganizationUser.objects.get(pk=owner.pk).role == "owner"


def test_a_member_cannot_manage_the_team_but_may_leave(alpha, page_client):
    client = page_client("member")
    viewer = membership(alpha, "viewer")
    assert (
        client.post(f"/app/team/members/{viewer.pk}/role/", {"role": "member"}).status_code == 403
    )
    assert client.post(f"/app/team/members/{viewer.pk}/remove/").status_code == 403
    assert (
        client.post("/app/team/invite/", {"email": "a@b.test", "role": "viewer"}).status_code == 403
    )
    assert OrganizationUser.objects.filter(pk=viewer.pk).exists()
    me = membership(alpha, "member")
    left = client.post(f"/app/team/members/{me.pk}/remove/")
    assert left.status_code == 302
    assert not OrganizationUser.objects.filter(pk=me.pk).exists()
    assert client.get("/").status_code == 403  # no longer a member here


def test_revoke_and_resend(alpha, page_client, tasks_inline, django_capture_on_commit_callbacks):
    issued = invite(alpha)
    client = page_client("admin")
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            client.post(f"/app/team/invitations/{issued.invitation.pk}/resend/").status_code == 302
        )
    fresh = OrganizationInvitation.objects.get(invitee_identifier="new.person@example.test")
    assert fresh.pk != issued.invitation.pk  # a new token; the old link is dead
    assert len(mail.outbox) == 1
    assert client.post(f"/app/team/invitations/{fresh.pk}/revoke/").status_code == 302
    assert not OrganizationInvitation.objects.exists()
    connection.set_tenant(alpha.tenant)
    assert AuditEntry.objects.filter(action="invitation.revoked").count() == 1


def test_another_tenants_members_and_invitations_are_404(alpha, beta, page_client):
    theirs = membership(beta, "member")
    issued = invite(beta, by="owner")
    client = page_client("owner")
    assert (
        client.post(f"/app/team/members/{theirs.pk}/role/", {"role": "viewer"}).status_code == 404
    )
    assert client.post(f"/app/team/members/{theirs.pk}/remove/").status_code == 404
    assert client.post(f"/app/team/invitations/{issued.invitation.pk}/revoke/").status_code == 404
    assert OrganizationUser.objects.get(pk=theirs.pk).role == "member"
    assert OrganizationInvitation.objects.filter(pk=issued.invitation.pk).exists()


# Accepting an invitation -----------------------------------------------------------------


def test_the_invitation_page_shows_who_invited_whom_to_what(alpha):
    issued = invite(alpha, role="viewer")
    response = host_client(alpha.host).get("/invitations/accept/", {"token": issued.token})
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "<strong>admin@alpha.test</strong> invited <strong>new.person@example.test</strong> "
        "to join <strong>Alpha Ltd</strong> as <strong>viewer</strong>."
    ) in html
    assert "Create your account" in html
    assert csp_of(response)["style-src"] == "'self'"


def test_a_new_invitee_sets_a_password_joins_and_is_signed_in(alpha):
    issued = invite(alpha)
    client = host_client(alpha.host)
    response = client.post(
        "/invitations/accept/",
        {
            "token": issued.token,
            "full_name": "New Person",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="new.person@example.test")
    assert user.check_password(PASSWORD) and user.full_name == "New Person"
    assert OrganizationUser.objects.get(user=user).role == "member"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Welcome to Alpha Ltd." in dashboard.content.decode()
    # Used: the same link now says so, and joins nobody.
    again = host_client(alpha.host).get("/invitations/accept/", {"token": issued.token})
    assert again.status_code == 410
    assert "This invitation was already used" in again.content.decode()


def test_password_rules_and_mismatch_are_form_errors(alpha):
    issued = invite(alpha)
    client = host_client(alpha.host)
    weak = client.post(
        "/invitations/accept/", {"token": issued.token, "password": "123", "password_again": "123"}
    )
    assert weak.status_code == 400
    assert 'id="id_password_error"' in weak.content.decode()
    differ = client.post(
        "/invitations/accept/",
        {"token": issued.token, "password": PASSWORD, "password_again": PASSWORD + "x"},
    )
    assert differ.status_code == 400
    assert "The two passwords differ." in differ.content.decode()
    assert not User.objects.filter(email="new.person@example.test").exists()


def test_an_existing_account_signs_in_with_its_password_to_join(alpha, beta):
    issued = invite(alpha, email="owner@beta.test")
    client = host_client(alpha.host)
    page = client.get("/invitations/accept/", {"token": issued.token}).content.decode()
    assert "already has a Tessera account" in page
    wrong = client.post(
        "/invitations/accept/", {"token": issued.token, "password": "wrong-password"}
    )
    assert wrong.status_code == 400
    assert "Incorrect password for the invited account." in wrong.content.decode()
    assert not OrganizationUser.objects.filter(
        user=beta.user("owner"), organization_id=alpha.tenant.organization_id
    ).exists()
    ok = client.post("/invitations/accept/", {"token": issued.token, "password": PASSWORD})
    assert ok.status_code == 302
    assert (
        OrganizationUser.objects.get(
            user=beta.user("owner"), organization_id=alpha.tenant.organization_id
        ).role
        == "member"
    )


def test_signed_in_as_the_invitee_one_click_joins(alpha):
    person = UserFactory(email="known@example.test")
    issued = invite(alpha, email="known@example.test")
    client = session_client(alpha, person)  # signed in on alpha, not yet a member
    page = client.get("/invitations/accept/", {"token": issued.token}).content.decode()
    assert "You are signed in as <strong>known@example.test</strong>" in page
    assert 'name="password"' not in page
    assert client.post("/invitations/accept/", {"token": issued.token}).status_code == 302
    assert OrganizationUser.objects.filter(user=person).exists()


@pytest.mark.parametrize("token", ["", "nope", "x" * 5000])
def test_unknown_tokens_get_a_clear_400_page(alpha, token):
    for response in (
        host_client(alpha.host).get("/invitations/accept/", {"token": token}),
        host_client(alpha.host).post(
            "/invitations/accept/", {"token": token, "password": PASSWORD}
        ),
    ):
        assert response.status_code == 400
        assert "This invitation link is not valid here" in response.content.decode()


def test_expired_and_revoked_tokens(alpha):
    issued = invite(alpha)
    OrganizationInvitation.objects.filter(pk=issued.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = host_client(alpha.host).post(
        "/invitations/accept/",
        {"token": issued.token, "password": PASSWORD, "password_again": PASSWORD},
    )
    assert expired.status_code == 410
    assert "This invitation has expired" in expired.content.decode()
    OrganizationInvitation.objects.filter(pk=issued.invitation.pk).delete()  # revoked
    assert (
        host_client(alpha.host).get("/invitations/accept/", {"token": issued.token}).status_code
        == 400
    )
    assert not User.objects.filter(email="new.person@example.test").exists()


def test_a_token_of_tenant_a_does_nothing_on_tenant_b(alpha, beta):
    issued = invite(alpha)
    client = host_client(beta.host)
    page = client.get("/invitations/accept/", {"token": issued.token})
    assert page.status_code == 400
    assert "Alpha Ltd" not in page.content.decode()
    joined = client.post(
        "/invitations/accept/",
        {"token": issued.token, "password": PASSWORD, "password_again": PASSWORD},
    )
    assert joined.status_code == 400
    assert not User.objects.filter(email="new.person@example.test").exists()
    assert OrganizationInvitation.objects.get(pk=issued.invitation.pk).accepted_at is None


# Settings ------------------------------------------------------------------------------------


def test_an_admin_renames_the_organisation_and_reads_the_audit_log(alpha, page_client):
    client = page_client("admin")
    response = client.post("/app/settings/", {"name": "Alpha Group"})
    assert response.status_code == 302
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    assert tenant.name == "Alpha Group"
    assert Organization.objects.get(pk=tenant.organization_id).name == "Alpha Group"
    html = client.get("/app/settings/").content.decode()
    assert 'id="audit-table"' in html and "organization.renamed" in html
    assert client.post("/app/settings/", {"name": ""}).status_code == 400
    assert client.post("/app/settings/", {"name": "x" * 201}).status_code == 400


def test_members_see_no_audit_log_and_cannot_rename(alpha, page_client):
    client = page_client("member")
    html = client.get("/app/settings/").content.decode()
    assert 'id="audit-table"' not in html and 'id="save-organisation"' not in html
    assert client.post("/app/settings/", {"name": "Mine now"}).status_code == 403
    assert Tenant.objects.get(pk=alpha.tenant.pk).name == "Alpha Ltd"


# Billing ---------------------------------------------------------------------------------------


def test_billing_is_for_owners_and_says_when_it_is_disabled(page_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    assert page_client("admin").get("/app/billing/").status_code == 403
    response = page_client("owner").get("/app/billing/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="billing-disabled"' in html
    assert 'action="/app/billing/checkout/"' not in html
    refused = page_client("owner").post("/app/billing/checkout/", {"plan": "pro"})
    assert refused.status_code == 503
    assert "Billing is disabled" in refused.content.decode()


def test_billing_stays_reachable_while_suspended(alpha, page_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=TenantStatus.SUSPENDED)
    response = page_client("owner").get("/app/billing/")
    assert response.status_code == 200
    assert 'id="read-only-banner"' in response.content.decode()
    # A write allowed while read-only: it reaches the service (503 here: no Stripe keys).
    assert page_client("owner").post("/app/billing/portal/").status_code == 503
    assert page_client("owner").post("/app/settings/", {"name": "X"}).status_code == 402
