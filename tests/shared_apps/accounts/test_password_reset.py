"""Password reset on the web and through the API: tenant-bound, single-use, expiring
links; the same answer whatever the email; a new password ends sessions and tokens."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client

from shared_apps.core.errors import ErrorCode, Message
from tenant_apps.audit.models import AuditEntry
from tests.factories import PASSWORD, MembershipFactory
from tests.shared_apps.accounts.conftest import new_member
from tests.support import error_of, host_client

NEW_PASSWORD = "a-brand-new-passphrase"
RESET = "/accounts/password/reset/"
LINK = re.compile(r"https?://[^/\s]+(/accounts/password/reset/key/[^\s\"<]+)")


def web_reset(world, email: str):
    return Client(HTTP_HOST=world.host).post(RESET, {"email": email})


def mailed_link(message) -> tuple[str, str]:
    """(host, path) of the reset link in a mail; the HTML part carries the same link."""
    match = LINK.search(message.body)
    assert match, message.body
    host = match.group(0).split("/")[2]
    html = message.alternatives[0][0]
    assert match.group(1) in html
    return host, match.group(1)


def follow_link(host: str, path: str, password: str = NEW_PASSWORD):
    """Open the link (allauth moves the key into the session), then set the password."""
    client = Client(HTTP_HOST=host)
    page = client.get(path, follow=True)
    form_path = page.redirect_chain[-1][0] if page.redirect_chain else path
    return client, page, client.post(form_path, {"password1": password, "password2": password})


def test_same_answer_for_member_unknown_and_non_member_and_only_the_member_is_mailed(
    alpha, beta, mailbox
):
    member = new_member(alpha)
    outsider = new_member(beta)
    responses = [
        web_reset(alpha, email) for email in (member.email, "nobody@example.test", outsider.email)
    ]
    assert {r.status_code for r in responses} == {302}
    assert {r["Location"] for r in responses} == {"/accounts/password/reset/done/"}
    assert [m.to for m in mailbox] == [[member.email]]
    message = mailbox[0]
    assert "Alpha Ltd" in message.subject and "Alpha Ltd" in message.body
    host, _ = mailed_link(message)
    assert host == alpha.host


def test_the_mailed_link_sets_a_password_once(alpha, mailbox):
    member = new_member(alpha)
    web_reset(alpha, member.email)
    host, path = mailed_link(mailbox[0])
    _, _, done = follow_link(host, path)
    assert done.status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    # A second use of the same link is refused with a clear page.
    _, page, _ = follow_link(host, path, "yet-another-passphrase")
    assert "This link is not valid" in page.content.decode()
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    connection.set_tenant(alpha.tenant)
    try:
        assert AuditEntry.objects.filter(action="auth.password_reset", actor=member).exists()
    finally:
        connection.set_schema_to_public()
    # allauth's notice "your password was reset" follows the link mail.
    assert any("reset" in m.subject.lower() for m in mailbox[1:])


def test_alphas_link_does_nothing_on_betas_host_even_for_a_member_of_both(alpha, beta, mailbox):
    person = new_member(alpha)
    MembershipFactory(organization=beta.tenant.organization, user=person)
    web_reset(alpha, person.email)
    _, path = mailed_link(mailbox[0])
    _, page, _ = follow_link(beta.host, path)
    assert "This link is not valid" in page.content.decode()
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


def test_the_link_expires_after_password_reset_timeout(alpha, mailbox, settings):
    from datetime import datetime, timedelta

    from shared_apps.accounts.tokens import password_reset_tokens

    member = new_member(alpha)
    web_reset(alpha, member.email)
    _, path = mailed_link(mailbox[0])
    key = path.rstrip("/").rsplit("/", 1)[1].split("-", 1)[1]
    connection.set_tenant(alpha.tenant)
    try:
        assert password_reset_tokens.check_token(member, key)
        password_reset_tokens._now = lambda: (
            datetime.now()
            + timedelta(  # type: ignore[method-assign]
                seconds=settings.PASSWORD_RESET_TIMEOUT + 5
            )
        )
        try:
            assert not password_reset_tokens.check_token(member, key)
        finally:
            del password_reset_tokens._now
    finally:
        connection.set_schema_to_public()


def test_new_password_ends_other_sessions_on_every_host_and_refresh_tokens(alpha, beta, mailbox):
    person = new_member(alpha)
    MembershipFactory(organization=beta.tenant.organization, user=person)
    sessions = {}
    for world in (alpha, beta):
        client = Client(HTTP_HOST=world.host)
        assert (
            client.post(
                "/accounts/login/", {"login": person.email, "password": PASSWORD}
            ).status_code
            == 302
        )
        assert client.get("/api/v1/me/").status_code == 200
        sessions[world.subdomain] = client
    pair = (
        host_client(alpha.host)
        .post("/api/v1/auth/token/", {"email": person.email, "password": PASSWORD}, format="json")
        .json()
    )

    web_reset(alpha, person.email)
    follow_link(*mailed_link(mailbox[0]))

    for client in sessions.values():  # Django's session auth hash follows the password
        assert client.get("/api/v1/me/").status_code == 401
    refresh = host_client(alpha.host).post(
        "/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    assert refresh.status_code == 401
    assert error_of(refresh) == {
        "code": ErrorCode.TOKEN_NOT_VALID,
        "message": Message.TOKEN_REVOKED,
        "fields": {},
    }
    access = host_client(alpha.host)
    access.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert access.get("/api/v1/me/").status_code == 401


# API ------------------------------------------------------------------------------------------


def api_reset(world, email):
    return host_client(world.host).post(
        "/api/v1/auth/password/reset/", {"email": email}, format="json"
    )


def api_confirm(world, token, password=NEW_PASSWORD):
    return host_client(world.host).post(
        "/api/v1/auth/password/reset/confirm/",
        {"token": token, "password": password},
        format="json",
    )


def token_of(message) -> str:
    _, path = mailed_link(message)
    return path.rstrip("/").rsplit("/", 1)[1]


def test_api_reset_is_202_whatever_the_email(alpha, beta, mailbox):
    member = new_member(alpha)
    for email in (member.email, "ghost@example.test", new_member(beta).email):
        response = api_reset(alpha, email)
        assert response.status_code == 202 and response.content == b""
    assert [m.to for m in mailbox] == [[member.email]]


def test_api_confirm_sets_the_password_once(alpha, mailbox):
    member = new_member(alpha)
    api_reset(alpha, member.email)
    token = token_of(mailbox[0])
    assert api_confirm(alpha, token).status_code == 204
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    again = api_confirm(alpha, token, "another-new-passphrase")
    assert again.status_code == 400
    assert error_of(again)["code"] == ErrorCode.INVALID_TOKEN


@pytest.mark.parametrize(
    "token", ["", "garbage", "zz-zz", "1-abc", "-", "9" * 300 + "-x", "a" * 600]
)
def test_api_confirm_refuses_unknown_tokens(alpha, token):
    response = api_confirm(alpha, token)
    assert response.status_code == 400
    assert error_of(response)["code"] in (ErrorCode.INVALID_TOKEN, ErrorCode.VALIDATION_ERROR)


def test_api_confirm_on_another_host_is_invalid_token(alpha, beta, mailbox):
    person = new_member(alpha)
    MembershipFactory(organization=beta.tenant.organization, user=person)
    api_reset(alpha, person.email)
    response = api_confirm(beta, token_of(mailbox[0]))
    assert response.status_code == 400
    assert error_of(response)["code"] == ErrorCode.INVALID_TOKEN
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


def test_api_confirm_with_a_weak_password_keeps_the_token_usable(alpha, mailbox):
    member = new_member(alpha)
    api_reset(alpha, member.email)
    token = token_of(mailbox[0])
    weak = api_confirm(alpha, token, "short")
    assert weak.status_code == 400
    assert "password" in error_of(weak)["fields"]
    member.refresh_from_db()
    assert member.check_password(PASSWORD)
    assert api_confirm(alpha, token).status_code == 204


def test_api_reset_validates_its_input(alpha):
    response = host_client(alpha.host).post(
        "/api/v1/auth/password/reset/", {"email": "not-an-email"}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == ErrorCode.VALIDATION_ERROR
