"""Support access (SPEC §13, ADR 0024) through the API and the pages, on real hosts:
start in the admin's service, hand-off redeemed on the tenant's host, read-only, writes
with a reason, the member's credentials out of reach, every refusal, the time limit,
the other tenant's side, the audit trail and the log lines."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from shared_apps.accounts.models import TenantSecurityPolicy, User
from shared_apps.core.errors import (
    ErrorCode,
    SupportDisabledByTenant,
    SupportPermissionRequired,
    SupportReasonRequired,
    SupportTargetNotAllowed,
    SupportTenantUnavailable,
)
from shared_apps.core.observability import ContextFilter, JsonFormatter
from shared_apps.organizations.models import OrganizationUser
from shared_apps.organizations.roles import Role
from shared_apps.support.models import SupportSession, SupportSessionStatus
from shared_apps.support.services import support_access_start
from tenant_apps.audit.models import AuditEntry
from tenant_apps.catalog.models import Category
from tests.factories import PASSWORD
from tests.support import error_of, host_client, session_client

ADMIN_EMAIL = "support-agent@platform.test"


@pytest.fixture
def platform_admin(db) -> User:
    return User.objects.create_superuser(email=ADMIN_EMAIL, password=PASSWORD)


def start(world, admin, role: str = "member", *, allow_writes=False, reason=""):
    """Start from the admin's service (public schema); returns (row, token)."""
    connection.set_schema_to_public()
    return support_access_start(
        tenant=world.tenant,
        admin=admin,
        member_id=world.user(role).pk,
        allow_writes=allow_writes,
        reason=reason,
    )


def redeemed_client(world, admin, role: str = "member", **kwargs):
    """A browser on the tenant's host that redeemed the hand-off: in support access."""
    _, token = start(world, admin, role, **kwargs)
    client = host_client(world.host)
    confirm = client.get("/support/start/", {"token": token})
    assert confirm.status_code == 200, confirm.content[:300]
    assert b"Start support access" in confirm.content
    response = client.post("/support/start/", {"token": token})
    assert response.status_code == 302 and response["Location"] == "/", response.content[:300]
    return client


def audit_rows(world, action_prefix: str = "support.") -> list[AuditEntry]:
    connection.set_tenant(world.tenant)
    try:
        return list(
            AuditEntry.objects.filter(action__startswith=action_prefix)
            .select_related("actor", "support_admin")
            .order_by("id")
        )
    finally:
        connection.set_schema_to_public()


def categories(world) -> int:
    connection.set_tenant(world.tenant)
    try:
        return Category.objects.count()
    finally:
        connection.set_schema_to_public()


# The session: banner, reads, read-only -------------------------------------------------------


def test_support_session_sees_the_members_app_with_the_banner(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin)
    page = client.get("/app/orders/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="support-banner"' in html
    assert f'{ADMIN_EMAIL}</span> as <span id="support-member">member@alpha.test' in html
    assert "read-only" in html and "ends at" in html and "End support access" in html
    # the member's own account links are not offered
    assert "/accounts/password/change/" not in html
    # the dashboard, the settings page and an error page carry the banner too
    for path in ("/", "/app/settings/", "/app/products/999999/"):
        assert 'id="support-banner"' in client.get(path).content.decode(), path
    # the API with the same session: the member's view
    me = client.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["user"]["email"] == "member@alpha.test"
    assert client.get("/api/v1/orders/").status_code == 200


def test_read_only_refuses_every_unsafe_method(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin)
    before = categories(alpha)
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(
            "/api/v1/categories/", {"name": "x", "slug": "x"}, format="json"
        )
        assert response.status_code == 403, (method, response.content)
        assert error_of(response)["code"] == ErrorCode.SUPPORT_READ_ONLY
    page = client.post("/app/products/new/", {"name": "x"})
    assert page.status_code == 403 and b"read-only" in page.content
    assert b'id="support-banner"' in page.content  # the HTML 403 page, with the banner
    assert categories(alpha) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/accounts/password/change/"),
        ("post", "/accounts/password/change/"),
        ("get", "/accounts/email/"),
        ("get", "/accounts/mfa/"),
        ("get", "/accounts/mfa/totp/activate/"),
        ("post", "/api/v1/me/mfa/totp/"),
        ("get", "/api/v1/api-keys/"),
        ("post", "/api/v1/api-keys/"),
        ("post", "/api/v1/auth/token/"),
        ("post", "/api/v1/auth/session/"),
        ("post", "/api/v1/auth/password/reset/"),
        ("post", "/app/settings/api-keys/"),
        ("post", "/api/v1/webhooks/endpoints/1/rotate-secret/"),
        ("post", "/app/settings/webhooks/1/rotate-secret/"),
    ],
)
def test_the_members_credentials_are_out_of_reach(alpha, platform_admin, method, path):
    """Even with writes allowed: no password, email, MFA, API keys or tokens."""
    client = redeemed_client(alpha, platform_admin, "admin", allow_writes=True, reason="T-1")
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == 403, response.content[:300]
    if path.startswith("/api/"):
        assert error_of(response)["code"] == ErrorCode.SUPPORT_NOT_ALLOWED
        assert "access" not in response.json()  # no JWT issued
    else:
        assert b"support access" in response.content.lower()


def test_allowed_writes_are_audited_as_support(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin, allow_writes=True, reason="ticket 42")
    assert 'id="support-mode">writes allowed' in client.get("/").content.decode()
    response = client.post(
        "/api/v1/categories/", {"name": "By support", "slug": "by-support"}, format="json"
    )
    assert response.status_code == 201, response.content
    created = [e for e in audit_rows(alpha, "") if e.object_type == "catalog.category"]
    assert created[-1].actor.email == "member@alpha.test"
    assert created[-1].support_admin_id == platform_admin.pk
    assert created[-1].actor_label == f"support {ADMIN_EMAIL} as member@alpha.test"
    write = [e for e in audit_rows(alpha) if e.action == "support.write"][-1]
    assert write.changes == {
        "method": "POST",
        "path": "/api/v1/categories/",
        "status": 201,
        "reason": "ticket 42",
    }
    # the audit log API names the support actor
    owner = session_client(alpha, alpha.user("owner"))
    rows = owner.get("/api/v1/audit-log/").json()["results"]
    labelled = next(r for r in rows if r["action"] == "support.write")
    assert labelled["support_admin_email"] == ADMIN_EMAIL
    assert labelled["actor_label"] == f"support {ADMIN_EMAIL} as member@alpha.test"


# Start, end, trail ------------------------------------------------------------------------------


def test_start_and_end_are_in_the_tenants_audit_log(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin)
    response = client.post("/support/end/")
    assert response.status_code == 302
    assert response["Location"] == "/support/ended/?by=admin"
    ended = client.get(response["Location"]).content.decode()
    assert f"http://localhost/admin/tenants/tenant/{alpha.tenant.pk}/support/" in ended
    # signed out on the tenant's host
    assert client.get("/app/orders/")["Location"].startswith("/accounts/login/")
    assert client.get("/api/v1/me/").status_code == 401
    started, ended = audit_rows(alpha)
    assert started.action == "support.started" and ended.action == "support.ended"
    assert started.changes["admin"] == ADMIN_EMAIL and started.changes["allow_writes"] is False
    assert ended.changes["reason"] == "ended"
    for entry in (started, ended):
        assert entry.actor_label == f"support {ADMIN_EMAIL} as member@alpha.test"
    row = SupportSession.objects.get()
    assert row.status == SupportSessionStatus.ENDED and row.end_reason == "ended"


def test_signing_out_ends_support_access(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin)
    assert client.post("/accounts/logout/").status_code == 302
    assert SupportSession.objects.get().end_reason == "logout"
    api = redeemed_client(alpha, platform_admin)
    assert api.delete("/api/v1/auth/session/").status_code == 204
    assert SupportSession.objects.order_by("-id").first().end_reason == "logout"


def test_the_handoff_token_is_single_use_and_tamper_proof(alpha, platform_admin):
    _, token = start(alpha, platform_admin)
    client = host_client(alpha.host)
    assert client.post("/support/start/", {"token": token}).status_code == 302
    again = host_client(alpha.host).post("/support/start/", {"token": token})
    assert again.status_code == 400 and b"unknown, used or expired" in again.content
    assert (
        host_client(alpha.host).get("/support/start/", {"token": token[:-2] + "xx"}).status_code
        == 400
    )
    assert host_client(alpha.host).get("/support/start/").status_code == 400


def test_a_handoff_not_redeemed_in_time_is_refused(alpha, platform_admin):
    row, token = start(alpha, platform_admin)
    SupportSession.objects.filter(pk=row.pk).update(
        redeem_by=timezone.now() - dt.timedelta(seconds=1)
    )
    response = host_client(alpha.host).post("/support/start/", {"token": token})
    assert response.status_code == 400
    assert "sessionid" not in response.cookies or not response.cookies["sessionid"].value


def test_the_time_limit_ends_the_session_and_signs_out(alpha, platform_admin, settings):
    settings.SUPPORT_ACCESS_MINUTES = 7
    client = redeemed_client(alpha, platform_admin)
    api = redeemed_client(alpha, platform_admin, "viewer")
    assert client.get("/app/orders/").status_code == 200
    # The bound is SUPPORT_ACCESS_MINUTES from the start; instead of waiting it out, the
    # clock reaches it: the rows' bound is moved to this instant.
    for row in SupportSession.objects.all():
        assert abs(row.expires_at - row.created - dt.timedelta(minutes=7)) < dt.timedelta(seconds=1)
    SupportSession.objects.update(expires_at=timezone.now())
    page = client.get("/app/orders/")
    assert page.status_code == 302 and page["Location"] == "/support/ended/"
    ended = client.get("/support/ended/")
    assert ended.status_code == 200 and b"Support access has ended" in ended.content
    assert b'id="support-banner"' not in ended.content
    assert client.get("/app/orders/")["Location"].startswith("/accounts/login/")  # logged out
    response = api.get("/api/v1/orders/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.SUPPORT_ACCESS_ENDED
    assert api.get("/api/v1/orders/").status_code == 401  # signed out, not support any more
    reasons = [e.changes["reason"] for e in audit_rows(alpha) if e.action == "support.ended"]
    assert reasons == ["expired", "expired"]
    assert set(SupportSession.objects.values_list("status", flat=True)) == {"expired"}


# Refusals -------------------------------------------------------------------------------------


def test_refused_when_the_tenant_turned_it_off(alpha, platform_admin):
    TenantSecurityPolicy.objects.create(tenant=alpha.tenant, support_access_allowed=False)
    with pytest.raises(SupportDisabledByTenant):
        start(alpha, platform_admin)
    assert SupportSession.objects.count() == 0
    (refused,) = audit_rows(alpha)
    assert refused.action == "support.refused"
    assert refused.changes == {
        "code": ErrorCode.SUPPORT_DISABLED_BY_TENANT,
        "admin": ADMIN_EMAIL,
        "member": "member@alpha.test",
    }
    assert refused.actor_label == f"support {ADMIN_EMAIL}"


def test_refused_onto_a_platform_admin_or_a_non_member(alpha, beta, platform_admin):
    staff_member = alpha.user("admin")
    staff_member.is_staff = True
    staff_member.save()
    with pytest.raises(SupportTargetNotAllowed):
        start(alpha, platform_admin, "admin")
    connection.set_schema_to_public()
    with pytest.raises(SupportTargetNotAllowed):  # beta's member is nobody on alpha
        support_access_start(
            tenant=alpha.tenant,
            admin=platform_admin,
            member_id=beta.user("member").pk,
            allow_writes=False,
            reason="",
        )
    with pytest.raises(SupportTargetNotAllowed):  # nor oneself
        OrganizationUser.objects.create(
            organization_id=alpha.tenant.organization_id, user=platform_admin, role=Role.MEMBER
        )
        support_access_start(
            tenant=alpha.tenant,
            admin=platform_admin,
            member_id=platform_admin.pk,
            allow_writes=False,
            reason="",
        )
    assert SupportSession.objects.count() == 0
    assert [e.changes["code"] for e in audit_rows(alpha)] == [
        ErrorCode.SUPPORT_TARGET_NOT_ALLOWED
    ] * 3


def test_refused_without_the_permission_and_allowed_with_it(alpha):
    staff = User.objects.create_user(email="staff@platform.test", password=PASSWORD, is_staff=True)
    with pytest.raises(SupportPermissionRequired):
        start(alpha, staff)
    assert audit_rows(alpha) == []  # not a support person: nothing in the tenant's log
    staff.user_permissions.add(Permission.objects.get(codename="support"))
    staff = User.objects.get(pk=staff.pk)  # permission cache
    row, _ = start(alpha, staff)
    assert row.status == SupportSessionStatus.PENDING
    # losing the permission ends the session on its next request
    client = redeemed_client(alpha, staff)
    staff.user_permissions.clear()
    response = client.get("/app/orders/")
    assert response.status_code == 302 and response["Location"] == "/support/ended/"


def test_writes_need_a_reason(alpha, platform_admin):
    with pytest.raises(SupportReasonRequired):
        start(alpha, platform_admin, allow_writes=True, reason="   ")
    assert SupportSession.objects.count() == 0


def test_refused_on_a_tenant_being_deleted(alpha, platform_admin):
    from tenants.data.models import DeletionStatus, TenantDeletionRequest

    TenantDeletionRequest.objects.create(
        tenant=alpha.tenant, status=DeletionStatus.PURGING, scheduled_for=timezone.now()
    )
    with pytest.raises(SupportTenantUnavailable):
        start(alpha, platform_admin)
    assert SupportSession.objects.count() == 0


def test_a_suspended_tenant_is_viewable_but_never_writable(alpha, platform_admin):
    from tenants.models import Tenant, TenantStatus

    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=TenantStatus.SUSPENDED)
    client = redeemed_client(alpha, platform_admin, allow_writes=True, reason="billing help")
    assert client.get("/app/orders/").status_code == 200
    response = client.post("/api/v1/categories/", {"name": "n", "slug": "n"}, format="json")
    assert response.status_code == 402
    assert error_of(response)["code"] == ErrorCode.TENANT_SUSPENDED


def test_turning_it_off_ends_a_running_session(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin)
    owner = session_client(alpha, alpha.user("owner"))
    settings_page = owner.get("/app/settings/").content.decode()
    assert 'id="id_support_access_allowed" checked' in settings_page
    assert owner.post("/app/settings/support/", {}).status_code == 302  # unticked: off
    assert TenantSecurityPolicy.objects.get(tenant=alpha.tenant).support_access_allowed is False
    assert client.get("/app/orders/")["Location"] == "/support/ended/"
    assert SupportSession.objects.get().end_reason == "disabled_by_tenant"
    actions = [e.action for e in audit_rows(alpha)]
    assert actions == ["support.started", "support.policy_changed", "support.ended"]
    # only owners change it
    admin = session_client(alpha, alpha.user("admin"))
    assert admin.post("/app/settings/support/", {"support_access_allowed": "on"}).status_code == 403
    assert 'id="id_support_access_allowed"' not in admin.get("/app/settings/").content.decode()


# The other tenant's side --------------------------------------------------------------------


def test_alphas_token_and_session_are_useless_on_beta(alpha, beta, platform_admin):
    row, token = start(alpha, platform_admin)
    on_beta = host_client(beta.host)
    assert on_beta.get("/support/start/", {"token": token}).status_code == 400
    response = on_beta.post("/support/start/", {"token": token})
    assert response.status_code == 400
    assert "sessionid" not in response.cookies or not response.cookies["sessionid"].value
    assert SupportSession.objects.get(pk=row.pk).status == SupportSessionStatus.PENDING
    # redeemed on alpha, its cookie brought to beta: nobody there
    alpha_client = host_client(alpha.host)
    assert alpha_client.post("/support/start/", {"token": token}).status_code == 302
    stray = host_client(beta.host)
    stray.cookies["sessionid"] = alpha_client.cookies["sessionid"].value
    assert stray.get("/app/orders/")["Location"].startswith("/accounts/login/")
    assert stray.get("/api/v1/orders/").status_code == 401
    assert b"support-banner" not in stray.get("/accounts/login/").content
    assert alpha_client.get("/app/orders/").status_code == 200  # still fine at home
    assert audit_rows(beta) == []


# Observability --------------------------------------------------------------------------------


def test_every_log_line_of_a_support_request_names_the_admin(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        client.get("/app/orders/")
        client.post("/api/v1/categories/", {"name": "x", "slug": "x"}, format="json")
        session_client(alpha, alpha.user("owner")).get("/api/v1/me/")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "tessera.access"]
    assert [line["status"] for line in access] == [200, 403, 200]
    member_id = str(alpha.user("member").pk)
    for line in access[:2]:
        assert line["support_admin_id"] == str(platform_admin.pk), line
        assert line["user_id"] == member_id
    assert "support_admin_id" not in access[2]  # an ordinary request: no such field
    refused = [line for line in lines if line["logger"] == "django.request"]
    assert all(line["support_admin_id"] == str(platform_admin.pk) for line in refused)


def test_sentry_events_carry_the_admin(alpha, platform_admin):
    from django.test import RequestFactory

    from shared_apps.core.observability import _tag_event, bind, unbind
    from shared_apps.support.services import context_of

    row, _ = start(alpha, platform_admin)
    request = RequestFactory().get("/")
    request.support_access = context_of(row)
    token = bind(request_id="r-1", request=request)
    try:
        event = _tag_event({})
    finally:
        unbind(token)
    assert event["tags"]["support_admin_id"] == str(platform_admin.pk)
    assert event["user"]["support_admin_id"] == str(platform_admin.pk)


def test_tasks_queued_during_support_carry_the_admin(alpha, platform_admin):
    from django.test import RequestFactory

    from shared_apps.core.observability import bind, unbind
    from shared_apps.support.services import context_of
    from tenants.background.headers import SUPPORT_ADMIN_HEADER, stamp_published

    row, _ = start(alpha, platform_admin)
    request = RequestFactory().get("/")
    request.support_access = context_of(row)
    headers: dict = {}
    token = bind(request_id="r-2", request=request)
    try:
        stamp_published(headers=headers)
    finally:
        unbind(token)
    assert headers[SUPPORT_ADMIN_HEADER] == str(platform_admin.pk)
    plain: dict = {}
    stamp_published(headers=plain)
    assert SUPPORT_ADMIN_HEADER not in plain


def test_deleting_an_account_keeps_the_support_history(alpha, platform_admin):
    client = redeemed_client(alpha, platform_admin)
    client.post("/support/end/")
    platform_admin.delete()
    row = SupportSession.objects.get()
    assert row.admin_id is None and row.admin_email == ADMIN_EMAIL
