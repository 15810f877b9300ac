"""Verified access tokens cached per process (tenants.token_cache): tenant-keyed, used
only until the token expires, and never instead of the binding, membership or password
checks."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from shared_apps.core.errors import ErrorCode, Message
from shared_apps.organizations.models import OrganizationUser
from tenants.authentication import PASSWORD_CLAIM, TENANT_CLAIM, password_fingerprint
from tenants.token_cache import VerifiedTokens, verified_tokens
from tests.support import error_of, host_client


def _access(world, role="member", *, seconds: int | None = None) -> str:
    user = world.user(role)
    refresh = RefreshToken.for_user(user)
    refresh[TENANT_CLAIM] = world.tenant.pk
    refresh[PASSWORD_CLAIM] = password_fingerprint(user)
    access = refresh.access_token
    if seconds is not None:
        access.set_exp(lifetime=timedelta(seconds=seconds))
    return str(access)


def _client(host: str, token: str):
    client = host_client(host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_that_authenticated_is_kept_for_its_tenant_only(alpha, beta):
    token = _access(alpha)
    assert verified_tokens.get(alpha.tenant.pk, token.encode()) is None
    assert _client(alpha.host, token).get("/api/v1/me/").status_code == 200
    cached = verified_tokens.get(alpha.tenant.pk, token.encode())
    assert cached is not None and cached[TENANT_CLAIM] == alpha.tenant.pk
    # The same string on beta's host: not beta's entry, verified afresh, refused.
    assert verified_tokens.get(beta.tenant.pk, token.encode()) is None
    response = _client(beta.host, token).get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["message"] == Message.TOKEN_OTHER_TENANT
    assert verified_tokens.get(beta.tenant.pk, token.encode()) is None
    # And alpha's entry still serves alpha.
    assert _client(alpha.host, token).get("/api/v1/me/").status_code == 200


def test_a_refused_token_is_not_kept(alpha):
    token = _access(alpha)
    OrganizationUser.objects.filter(user=alpha.user("member")).delete()
    assert _client(alpha.host, token).get("/api/v1/me/").status_code == 401
    assert verified_tokens.get(alpha.tenant.pk, token.encode()) is None
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert _client(alpha.host, tampered).get("/api/v1/me/").status_code == 401
    assert verified_tokens.get(alpha.tenant.pk, tampered.encode()) is None


def test_a_cached_token_still_needs_the_membership_and_the_password(alpha):
    member, owner = _access(alpha, "member"), _access(alpha, "owner")
    for token in (member, owner):
        assert _client(alpha.host, token).get("/api/v1/me/").status_code == 200
        assert verified_tokens.get(alpha.tenant.pk, token.encode()) is not None
    OrganizationUser.objects.filter(user=alpha.user("member")).delete()
    response = _client(alpha.host, member).get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.NOT_A_MEMBER
    user = alpha.user("owner")
    user.set_password("a-new-password-7Hq")
    user.save(update_fields=["password"])
    response = _client(alpha.host, owner).get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["message"] == Message.TOKEN_REVOKED


def test_a_cached_token_is_refused_once_it_expires(alpha):
    token = _access(alpha, seconds=2)
    client = _client(alpha.host, token)
    assert client.get("/api/v1/me/").status_code == 200
    assert verified_tokens.get(alpha.tenant.pk, token.encode()) is not None
    exp = verified_tokens.get(alpha.tenant.pk, token.encode())["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    assert verified_tokens.get(alpha.tenant.pk, token.encode()) is None
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.TOKEN_NOT_VALID


def test_a_change_of_the_jwt_settings_forgets_every_token(alpha):
    token = _access(alpha)
    assert _client(alpha.host, token).get("/api/v1/me/").status_code == 200
    assert len(verified_tokens) > 0
    with override_settings(SIMPLE_JWT={**settings.SIMPLE_JWT, "LEEWAY": 0}):
        assert len(verified_tokens) == 0


def test_the_cache_is_bounded_and_can_be_off():
    cache = VerifiedTokens(maxsize=2)
    for n in range(3):
        cache.put(1, b"t%d" % n, AccessToken())
    assert len(cache) == 2 and cache.get(1, b"t0") is None and cache.get(1, b"t2") is not None
    assert cache.get(2, b"t2") is None  # another tenant's key
    no_exp = AccessToken()
    del no_exp["exp"]
    cache.put(1, b"no-exp", no_exp)
    assert cache.get(1, b"no-exp") is None
    off = VerifiedTokens(maxsize=0)
    off.put(1, b"t", AccessToken())
    assert off.get(1, b"t") is None and len(off) == 0
