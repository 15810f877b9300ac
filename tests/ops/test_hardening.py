"""Login lockout, security headers, body limits and cache-outage tolerance of throttles."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.cache import caches

from shared_apps.core.errors import ErrorCode
from shared_apps.core.lockout import LOCKED_OUT_MESSAGE
from tenants.authentication import BAD_CREDENTIALS
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.support import bearer_client, error_of, host_client

LOW_LIMITS = {"ACCOUNT_FAILURES": 3, "IP_FAILURES": 5, "WINDOW_SECONDS": 60}
# The "shared" cache is shared by every test run on this Redis: each test uses its own
# emails and client address, so counts never cross runs.
UNREACHABLE_REDIS = "unix:///nonexistent/tessera-ops/redis.sock"


def fresh_address() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"


def fresh_email() -> str:
    return f"lock-{uuid.uuid4().hex[:10]}@example.test"


@pytest.fixture
def low_limits(settings):
    # Through pytest-django's settings fixture only: mixing it with @override_settings on
    # the same test restores the wrong settings afterwards (they are not undone LIFO).
    settings.LOGIN_LOCKOUT = LOW_LIMITS


def new_member(world):
    user = UserFactory(email=fresh_email())
    MembershipFactory(organization=world.tenant.organization, user=user)
    return user


# Accounts of their own: the session users (owner@alpha.test, ...) are shared with every
# other test run on this Redis, whose failed logins count too.
@pytest.fixture
def member(alpha):
    return new_member(alpha)


@pytest.fixture
def other(alpha):
    return new_member(alpha)


def login(world, email, password, *, address, endpoint="/api/v1/auth/token/"):
    return host_client(world.host).post(
        endpoint, {"email": email, "password": password}, format="json", REMOTE_ADDR=address
    )


@pytest.mark.usefixtures("low_limits")
@pytest.mark.parametrize("endpoint", ["/api/v1/auth/token/", "/api/v1/auth/session/"])
def test_account_is_locked_after_repeated_failures_even_with_the_right_password(
    alpha, member, endpoint
):
    address = fresh_address()
    statuses = [
        login(alpha, member.email, "wrong", address=address, endpoint=endpoint).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 401]
    response = login(alpha, member.email, PASSWORD, address=address, endpoint=endpoint)
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == ErrorCode.THROTTLED
    assert error["message"].startswith(LOCKED_OUT_MESSAGE)
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.usefixtures("low_limits")
def test_account_lock_follows_the_account_to_other_addresses_and_tenants(
    alpha, beta, member, other
):
    MembershipFactory(organization=beta.tenant.organization, user=member)
    for _ in range(3):
        login(alpha, member.email.upper(), "wrong", address=fresh_address())
    assert login(beta, member.email, PASSWORD, address=fresh_address()).status_code == 429
    # Another account is unaffected.
    assert login(alpha, other.email, PASSWORD, address=fresh_address()).status_code == 200


@pytest.mark.usefixtures("low_limits")
def test_address_is_locked_after_failures_across_accounts(alpha, member):
    address = fresh_address()
    for _ in range(5):
        assert login(alpha, fresh_email(), "wrong", address=address).status_code == 401
    response = login(alpha, member.email, PASSWORD, address=address)
    assert response.status_code == 429
    assert login(alpha, member.email, PASSWORD, address=fresh_address()).status_code == 200


@pytest.mark.usefixtures("low_limits")
def test_an_operator_can_unlock_an_account_and_an_address(alpha, member):
    from shared_apps.core.lockout import login_lockout_clear

    address = fresh_address()
    for email in [member.email] * 3 + [fresh_email(), fresh_email()]:
        assert login(alpha, email, "wrong", address=address).status_code == 401
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 429
    login_lockout_clear(email=member.email.upper())
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 429  # address
    login_lockout_clear(address=address)
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 200


@pytest.mark.usefixtures("low_limits")
def test_a_successful_login_clears_the_account_count(alpha, member):
    address = fresh_address()
    for _ in range(2):
        login(alpha, member.email, "wrong", address=address)
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 200
    for _ in range(2):
        assert login(alpha, member.email, "wrong", address=address).status_code == 401
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 200


def test_the_lock_expires_after_the_window(alpha, member, settings):
    import time

    settings.LOGIN_LOCKOUT = {**LOW_LIMITS, "WINDOW_SECONDS": 1}

    address = fresh_address()
    for _ in range(3):
        login(alpha, member.email, "wrong", address=address)
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 429
    time.sleep(1.1)
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 200


@pytest.mark.usefixtures("low_limits")
def test_address_behind_a_proxy_is_the_one_the_proxy_saw(alpha, member, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client_address = fresh_address()
    for _ in range(5):
        # The client forges a leading entry; the load balancer appends the real address.
        host_client(alpha.host).post(
            "/api/v1/auth/token/",
            {"email": fresh_email(), "password": "wrong"},
            format="json",
            REMOTE_ADDR="10.0.0.9",
            HTTP_X_FORWARDED_FOR=f"{fresh_address()}, {client_address}",
        )
    response = host_client(alpha.host).post(
        "/api/v1/auth/token/",
        {"email": member.email, "password": PASSWORD},
        format="json",
        REMOTE_ADDR="10.0.0.9",
        HTTP_X_FORWARDED_FOR=client_address,
    )
    assert response.status_code == 429


def test_without_proxies_a_forwarded_for_header_is_ignored(alpha, settings):
    from rest_framework.throttling import BaseThrottle

    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    request = host_client(alpha.host).get("/healthz").wsgi_request
    request.META["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    assert BaseThrottle().get_ident(request) == request.META["REMOTE_ADDR"]


@pytest.mark.usefixtures("low_limits")
def test_lockout_fails_open_while_redis_is_down(alpha, member, settings):
    settings.CACHES = {
        **settings.CACHES,
        "shared": {**settings.CACHES["shared"], "LOCATION": UNREACHABLE_REDIS},
    }
    address = fresh_address()
    for _ in range(4):
        response = login(alpha, member.email, "wrong", address=address)
        assert response.status_code == 401
        assert error_of(response)["message"] == BAD_CREDENTIALS
    assert login(alpha, member.email, PASSWORD, address=address).status_code == 200


def test_lockout_counts_live_in_the_shared_cache_without_tenant_prefix(settings):
    shared = settings.CACHES["shared"]
    assert "KEY_FUNCTION" not in shared
    assert shared["LOCATION"] == settings.CACHES["default"]["LOCATION"]
    caches["shared"].set("ops-probe", 1, timeout=5)
    assert caches["shared"].get("ops-probe") == 1


# Throttles with Redis down ------------------------------------------------------------------


def test_api_requests_still_work_when_the_throttle_cache_is_down(alpha, settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": UNREACHABLE_REDIS},
    }
    assert bearer_client(alpha).get("/api/v1/me/").status_code == 200
    assert host_client("localhost").get("/readyz").status_code == 503


# Security headers -------------------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part
    }


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("localhost", "/signup/"),
        ("localhost", "/admin/login/"),
        ("alpha.localhost", "/api/v1/docs/"),
        ("alpha.localhost", "/api/v1/me/"),
        ("unknown.example", "/api/v1/me/"),
    ],
)
def test_every_page_has_csp_and_permissions_policy(db, host, path):
    response = host_client(host).get(path)
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no inline or eval'd script anywhere
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    policy = response["Permissions-Policy"]
    for feature in ("camera=()", "geolocation=()", "microphone=()", "payment=()"):
        assert feature in policy


def test_html_pages_have_no_inline_scripts(alpha):
    pages = [
        host_client("localhost").get("/signup/"),
        host_client("localhost").get("/admin/login/"),
        host_client(alpha.host).get("/api/v1/docs/"),
    ]
    for page in pages:
        assert page.status_code == 200
        scripts = re.findall(r"<script\b([^>]*)>", page.content.decode())
        for attributes in scripts:
            assert "src=" in attributes or "application/json" in attributes, attributes


def test_swagger_init_script_is_served_from_our_origin(alpha):
    page = host_client(alpha.host).get("/api/v1/docs/").content.decode()
    (init_script,) = re.findall(r'<script src="([^"]*script[^"]*)"', page)
    response = host_client(alpha.host).get(init_script.replace("&amp;", "&"))
    assert response.status_code == 200
    assert "SwaggerUIBundle" in response.content.decode()
