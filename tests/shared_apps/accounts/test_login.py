"""Web login and logout on tenant hosts (allauth's views, the project's adapter)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test import Client

from shared_apps.accounts.adapter import WRONG_CREDENTIALS
from shared_apps.core.lockout import LOCKED_OUT_MESSAGE
from tenant_apps.audit.models import AuditEntry
from tests.factories import PASSWORD, MembershipFactory
from tests.shared_apps.accounts.conftest import new_member

# A <script> element without a src (the vendored htmx file is allowed: CSP script-src 'self').
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)")

LOGIN = "/accounts/login/"


def web_login(client: Client, email: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"login": email, "password": password}, **extra)


def audit_actions(world) -> list[str]:
    connection.set_tenant(world.tenant)
    try:
        return list(AuditEntry.objects.values_list("action", flat=True))
    finally:
        connection.set_schema_to_public()


def test_login_page_has_the_contract_fields_and_no_inline_script(alpha):
    response = Client(HTTP_HOST=alpha.host).get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="login"' in html and 'name="password"' in html
    assert "csrfmiddlewaretoken" in html
    assert not INLINE_SCRIPT.search(html) and "onclick" not in html
    assert "Alpha Ltd" in html  # the tenant's name, not a generic page
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_member_signs_in_lands_on_the_front_page_and_the_session_works(alpha, member):
    client = Client(HTTP_HOST=alpha.host)
    client.get(LOGIN)
    anonymous_key = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    response = web_login(client, member.email)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.cookies["sessionid"].value != anonymous_key  # rotated at login
    cookie = client.cookies["sessionid"]
    assert cookie["domain"] == "" and cookie["samesite"] == "Lax" and cookie["httponly"]
    me = client.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["user"]["email"] == member.email
    assert "auth.login" in audit_actions(alpha)


def test_next_parameter_is_followed_only_on_this_host(alpha, member):
    client = Client(HTTP_HOST=alpha.host)
    response = client.post(
        f"{LOGIN}?next=/api/v1/me/", {"login": member.email, "password": PASSWORD}
    )
    assert response["Location"] == "/api/v1/me/"
    client = Client(HTTP_HOST=alpha.host)
    response = client.post(
        f"{LOGIN}?next=http://beta.localhost/", {"login": member.email, "password": PASSWORD}
    )
    assert response["Location"] == "/"


def test_non_member_gets_the_wrong_password_answer_and_it_is_audited(alpha, beta):
    beta_member = new_member(beta)
    stranger = web_login(Client(HTTP_HOST=alpha.host), beta_member.email)
    wrong = web_login(Client(HTTP_HOST=alpha.host), new_member(alpha).email, "not-it")
    assert stranger.status_code == wrong.status_code == 200  # the form again, no session
    assert WRONG_CREDENTIALS in stranger.content.decode()
    assert WRONG_CREDENTIALS in wrong.content.decode()
    assert "_auth_user_id" not in stranger.wsgi_request.session
    connection.set_tenant(alpha.tenant)
    try:
        failed = AuditEntry.objects.filter(action="auth.login_failed")
        emails = [entry.changes["email"] for entry in failed]
        assert beta_member.email in emails
        assert all("password" not in entry.changes for entry in failed)
    finally:
        connection.set_schema_to_public()


def test_inactive_member_and_inactive_organisation_cannot_sign_in(alpha, member):
    member.is_active = False
    member.save(update_fields=["is_active"])
    response = web_login(Client(HTTP_HOST=alpha.host), member.email)
    assert response.status_code == 200 and WRONG_CREDENTIALS in response.content.decode()


def test_session_cookie_of_alpha_is_anonymous_on_beta(alpha, beta):
    person = new_member(alpha)
    MembershipFactory(organization=beta.tenant.organization, user=person)
    client = Client(HTTP_HOST=alpha.host)
    assert web_login(client, person.email).status_code == 302
    alpha_cookie = client.cookies["sessionid"].value
    on_beta = Client(HTTP_HOST=beta.host)
    on_beta.cookies["sessionid"] = alpha_cookie
    assert on_beta.get("/api/v1/me/").status_code == 401
    page = on_beta.get(LOGIN)
    assert page.status_code == 200 and not page.wsgi_request.user.is_authenticated


def test_web_login_form_counts_toward_the_lockout(alpha, settings):
    settings.LOGIN_LOCKOUT = {"ACCOUNT_FAILURES": 3, "IP_FAILURES": 1000, "WINDOW_SECONDS": 60}
    person = new_member(alpha)
    address = f"203.0.113.{uuid.uuid4().int % 250 + 1}"
    client = Client(HTTP_HOST=alpha.host, REMOTE_ADDR=address)
    for _ in range(3):
        assert WRONG_CREDENTIALS in web_login(client, person.email, "nope").content.decode()
    locked = web_login(client, person.email)  # the right password, locked all the same
    assert LOCKED_OUT_MESSAGE in locked.content.decode()
    assert "_auth_user_id" not in locked.wsgi_request.session
    assert "auth.lockout" in audit_actions(alpha)
    # The same account is locked for the token endpoint too (one lockout).
    token = Client(HTTP_HOST=alpha.host, REMOTE_ADDR=address).post(
        "/api/v1/auth/token/",
        {"email": person.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert token.status_code == 429


def test_non_members_failed_logins_count_toward_the_lockout(alpha, beta, settings):
    settings.LOGIN_LOCKOUT = {"ACCOUNT_FAILURES": 2, "IP_FAILURES": 1000, "WINDOW_SECONDS": 60}
    beta_member = new_member(beta)
    for _ in range(2):
        web_login(Client(HTTP_HOST=alpha.host), beta_member.email)  # right password, wrong tenant
    response = web_login(Client(HTTP_HOST=beta.host), beta_member.email)
    assert LOCKED_OUT_MESSAGE in response.content.decode()


def test_logout_needs_a_post_and_ends_the_session(alpha, member):
    client = Client(HTTP_HOST=alpha.host)
    web_login(client, member.email)
    assert client.get("/accounts/logout/").status_code == 200  # a confirmation page
    assert client.get("/api/v1/me/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert client.get("/api/v1/me/").status_code == 401


def test_sign_up_through_allauth_is_closed(alpha):
    response = Client(HTTP_HOST=alpha.host).post(
        "/accounts/signup/", {"email": "new@example.test", "password1": PASSWORD}
    )
    assert response.status_code == 200
    assert "closed" in response.content.decode().lower()
    from shared_apps.accounts.models import User

    assert not User.objects.filter(email="new@example.test").exists()


@pytest.mark.parametrize("user_kind", ["member", "superuser"])
def test_public_host_login_is_for_platform_superusers_only(alpha, user_kind):
    from tests.factories import UserFactory

    user = (
        new_member(alpha)
        if user_kind == "member"
        else UserFactory(email=f"root-{uuid.uuid4().hex[:8]}@example.test", superuser=True)
    )
    response = web_login(Client(HTTP_HOST="localhost"), user.email)
    if user_kind == "member":
        assert response.status_code == 200 and WRONG_CREDENTIALS in response.content.decode()
    else:
        assert response.status_code == 302


def test_csrf_is_enforced_on_the_login_form(alpha, member):
    client = Client(HTTP_HOST=alpha.host, enforce_csrf_checks=True)
    response = web_login(client, member.email)
    assert response.status_code == 403


def test_oversized_login_field_is_a_form_error_not_a_500(alpha):
    response = web_login(Client(HTTP_HOST=alpha.host), "a" * 5000 + "@example.test")
    assert response.status_code == 200
    assert "_auth_user_id" not in response.wsgi_request.session
