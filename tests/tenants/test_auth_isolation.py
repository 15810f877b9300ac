"""Tokens, cookies, users and ids of one tenant get nothing on another."""

from __future__ import annotations

import pytest

from shared_apps.core.errors import ErrorCode, Message
from shared_apps.organizations.models import OrganizationUser
from tenants.authentication import BAD_CREDENTIALS
from tests.factories import PASSWORD, MembershipFactory
from tests.support import bearer_client, error_of, host_client


def obtain(client, email: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/token/", {"email": email, "password": password}, format="json")


def test_member_gets_a_token_that_works_on_its_own_tenant(alpha):
    client = host_client(alpha.host)
    response = obtain(client, "member@alpha.test")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    body = me.json()
    assert body["user"]["email"] == "member@alpha.test"
    assert body["role"] == "member"
    assert body["tenant"]["subdomain"] == "alpha"
    assert body["tenant"]["url"] == "http://alpha.localhost/"
    assert body["tenant"]["status"] == "trialing"


def test_token_from_alpha_is_refused_on_beta(alpha, beta):
    response = bearer_client(alpha, "owner", host=beta.host).get("/api/v1/me/")
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == ErrorCode.TOKEN_NOT_VALID
    assert error["message"] == Message.TOKEN_OTHER_TENANT


def test_token_from_alpha_is_refused_on_beta_even_for_a_member_of_both(alpha, beta):
    # The user really is a member of beta too: the token is still alpha's, not beta's.
    MembershipFactory(organization=beta.tenant.organization, user=alpha.user("owner"))
    response = bearer_client(alpha, "owner", host=beta.host).get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.TOKEN_NOT_VALID


def test_refresh_token_from_alpha_is_refused_on_beta(alpha, beta):
    pair = obtain(host_client(alpha.host), "owner@alpha.test").json()
    response = host_client(beta.host).post(
        "/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.TOKEN_NOT_VALID
    ok = host_client(alpha.host).post(
        "/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["access"]


def test_user_of_alpha_cannot_obtain_a_token_on_beta(beta):
    response = obtain(host_client(beta.host), "owner@alpha.test")
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == ErrorCode.AUTHENTICATION_FAILED
    assert error["message"] == BAD_CREDENTIALS


def test_wrong_password_and_non_member_get_the_same_answer(alpha):
    wrong = obtain(host_client(alpha.host), "owner@alpha.test", "not-the-password")
    stranger = obtain(host_client(alpha.host), "owner@beta.test")
    assert wrong.status_code == stranger.status_code == 401
    assert error_of(wrong) == error_of(stranger)


def test_removed_member_token_stops_working(alpha):
    client = bearer_client(alpha, "member")
    assert client.get("/api/v1/me/").status_code == 200
    OrganizationUser.objects.filter(user=alpha.user("member")).delete()
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.NOT_A_MEMBER


def test_inactive_user_token_stops_working(alpha):
    client = bearer_client(alpha, "member")
    user = alpha.user("member")
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/v1/me/").status_code == 401


def test_garbage_and_missing_tokens_get_401(alpha):
    client = host_client(alpha.host)
    assert error_of(client.get("/api/v1/me/"))["code"] == ErrorCode.NOT_AUTHENTICATED
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.TOKEN_NOT_VALID


def test_session_cookie_from_alpha_is_anonymous_on_beta(alpha, beta):
    client = host_client(alpha.host)
    login = client.post(
        "/api/v1/auth/session/", {"email": "owner@alpha.test", "password": PASSWORD}, format="json"
    )
    assert login.status_code == 204
    assert client.get("/api/v1/me/").status_code == 200
    session_cookie = client.cookies["sessionid"]
    assert session_cookie["domain"] == ""  # host-only cookie

    thief = host_client(beta.host)
    thief.cookies["sessionid"] = session_cookie.value
    response = thief.get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.NOT_AUTHENTICATED


def test_session_of_a_member_of_both_tenants_does_not_cross(alpha, beta):
    MembershipFactory(organization=beta.tenant.organization, user=alpha.user("owner"))
    client = host_client(alpha.host)
    client.post(
        "/api/v1/auth/session/", {"email": "owner@alpha.test", "password": PASSWORD}, format="json"
    )
    thief = host_client(beta.host)
    thief.cookies["sessionid"] = client.cookies["sessionid"].value
    assert thief.get("/api/v1/me/").status_code == 401


def test_session_logout(alpha):
    client = host_client(alpha.host)
    client.post(
        "/api/v1/auth/session/", {"email": "owner@alpha.test", "password": PASSWORD}, format="json"
    )
    assert client.delete("/api/v1/auth/session/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_session_login_refuses_non_members(alpha):
    response = host_client(alpha.host).post(
        "/api/v1/auth/session/", {"email": "owner@beta.test", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401


def test_member_ids_of_beta_are_not_found_on_alpha(alpha, beta):
    beta_member = OrganizationUser.objects.get(user=beta.user("member"))
    client = bearer_client(alpha, "owner")
    response = client.get(f"/api/v1/members/{beta_member.pk}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == ErrorCode.NOT_FOUND
    own = OrganizationUser.objects.get(user=alpha.user("member"))
    assert client.get(f"/api/v1/members/{own.pk}/").json()["email"] == "member@alpha.test"


def test_member_list_shows_only_this_tenant(alpha):
    response = bearer_client(alpha, "viewer").get("/api/v1/members/")
    emails = {m["email"] for m in response.json()["results"]}
    assert emails == {f"{r}@alpha.test" for r in ("owner", "admin", "member", "viewer")}


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_every_role_reads_me(alpha, role):
    assert bearer_client(alpha, role).get("/api/v1/me/").json()["role"] == role


def test_tenant_api_is_not_served_on_the_public_host(public_client):
    response = public_client.get("/api/v1/me/")
    assert response.status_code == 404
    assert error_of(response)["code"] == ErrorCode.NOT_FOUND
