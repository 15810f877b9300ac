"""Account journeys in a real browser (headless Chromium via Playwright) against the
session's live server on the test database (tests/browser.py): one test per journey, a
screenshot on failure under ``.local/screenshots/`` (gitignored).
``TESSERA_DOC_SCREENSHOTS=1`` also refreshes the pictures in ``docs/screenshots/``.

These tests are about signing in, so they sign in through the form (the TOTP set-up
too: allauth asks for a recent sign-in with a password before it).

The live server sees only committed data, so these tests create their users committed
(no per-test transaction) and delete them afterwards; the session tenants alpha and
beta are left as they were. Mail goes to Django's locmem outbox, shared with the server
thread; the Celery tasks' own code runs in-process (no broker).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core import mail

from tests.browser import browser, browser_marks, live_port, new_page
from tests.factories import PASSWORD
from tests.shared_apps.accounts.conftest import totp_now

DOCS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
RESET_LINK = re.compile(r"https?://[^/\s]+(/accounts/password/reset/key/[^\s\"<]+)")

pytestmark = browser_marks()
__all__ = ["browser", "live_port"]


# One thread for the module: its database connection is opened once, not per call.
_OWN_CONNECTION = ThreadPoolExecutor(max_workers=1, thread_name_prefix="committed-users")


def in_own_connection(func, *args):
    """Run ``func`` in a thread of its own: its own database connection, autocommitting,
    outside this test's transaction (which the live server cannot see)."""
    return _OWN_CONNECTION.submit(func, *args).result()


@pytest.fixture(scope="module", autouse=True)
def _own_connection_closed():
    yield

    def close():
        from django.db import connection

        connection.close()

    in_own_connection(close)


@pytest.fixture
def committed(db, django_db_blocker, monkeypatch):
    """Committed users (members of alpha or beta), deleted afterwards with their rows."""
    from shared_apps.accounts import tasks

    for task in (tasks.send_account_email, tasks.send_email_verification):
        monkeypatch.setattr(task, "delay", task.run)
    mail.outbox = []
    created: list[int] = []

    def create(subdomain: str):
        from shared_apps.accounts.models import User
        from shared_apps.organizations.models import OrganizationUser
        from tenants.models import Tenant

        user = User.objects.create_user(
            email=f"browser-{uuid.uuid4().hex[:10]}@example.test", password=PASSWORD
        )
        tenant = Tenant.objects.get(subdomain=subdomain)
        OrganizationUser.objects.create(
            organization_id=tenant.organization_id, user=user, role="member"
        )
        return user

    def make_member(subdomain: str):
        user = in_own_connection(create, subdomain)
        created.append(user.pk)
        return user

    def clean_up():
        from allauth.account.models import EmailAddress
        from allauth.mfa.models import Authenticator
        from django.db import connection

        from shared_apps.accounts.models import User
        from tenant_apps.audit.models import AuditEntry
        from tenants.models import Tenant

        for tenant in Tenant.objects.filter(subdomain__in=["alpha", "beta"]):
            connection.set_tenant(tenant)
            AuditEntry.objects.filter(actor_id__in=created).delete()
            AuditEntry.objects.filter(changes__email__startswith="browser-").delete()
            connection.set_schema_to_public()
        Authenticator.objects.filter(user_id__in=created).delete()
        EmailAddress.objects.filter(user_id__in=created).delete()
        User.objects.filter(pk__in=created).delete()

    yield make_member
    in_own_connection(clean_up)


@pytest.fixture
def browser_page(browser, live_port, committed):
    """A page of a fresh context; the test fails if the page logged a CSP violation."""
    page = new_page(browser, viewport={"width": 900, "height": 760})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    assert not [e for e in errors if "Content Security Policy" in e], errors


def url(port: int, subdomain: str, path: str) -> str:
    return f"http://{subdomain}.localhost:{port}{path}"


def browser_get(page, address: str) -> int:
    """GET in the browser itself (its cookies, its resolver of ``*.localhost``)."""
    return page.goto(address).status


def api_call(port: int, subdomain: str, method: str, path: str, body=None, token=None):
    """An API client outside the browser (Playwright's own request context cannot resolve
    ``*.localhost``): the tenant is chosen by the Host header, as in production."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": f"{subdomain}.localhost:{port}", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(
        method, path, body=json.dumps(body) if body is not None else None, headers=headers
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, (json.loads(raw) if raw else None)


def doc_shot(page, name: str) -> None:
    if os.environ.get("TESSERA_DOC_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)


def sign_in(page, port: int, subdomain: str, email: str, password: str = PASSWORD):
    page.goto(url(port, subdomain, "/accounts/login/"))
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_member_signs_in_and_the_session_works(browser_page, live_port, committed):
    member = committed("alpha")
    page = browser_page
    response = page.goto(url(live_port, "alpha", "/accounts/login/"))
    assert response.status == 200
    assert "Sign in to Alpha Ltd" in page.inner_text("h1")
    doc_shot(page, "login")
    page.fill("input[name=login]", member.email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith(f":{live_port}/") or "/api/v1/docs/" in page.url
    assert browser_get(page, url(live_port, "alpha", "/api/v1/me/")) == 200
    assert member.email in page.content()
    # The cookie is host-only: beta's host sees an anonymous visitor.
    assert browser_get(page, url(live_port, "beta", "/api/v1/me/")) == 401


def test_member_of_beta_is_refused_on_alphas_login(browser_page, live_port, committed):
    stranger = committed("beta")
    page = browser_page
    sign_in(page, live_port, "alpha", stranger.email)
    page.wait_for_selector("[role=alert]")
    assert "not correct" in page.inner_text("[role=alert]")
    doc_shot(page, "login-refused")
    assert browser_get(page, url(live_port, "alpha", "/api/v1/me/")) == 401


def test_password_reset_by_the_mailed_link(browser_page, live_port, committed):
    member = committed("alpha")
    page = browser_page
    page.goto(url(live_port, "alpha", "/accounts/password/reset/"))
    doc_shot(page, "password-reset")
    page.fill("input[name=email]", member.email)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("#reset-sent")
    assert [m.to for m in mail.outbox] == [[member.email]]
    path = RESET_LINK.search(mail.outbox[0].body).group(1)
    assert f"alpha.localhost:{live_port}" in mail.outbox[0].body

    # On beta's host the link does nothing.
    page.goto(url(live_port, "beta", path))
    page.wait_for_selector("#reset-invalid")

    page.goto(url(live_port, "alpha", path))
    doc_shot(page, "password-reset-new")
    page.fill("input[name=password1]", "a-browser-new-password")
    page.fill("input[name=password2]", "a-browser-new-password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("#reset-done")

    page.goto(url(live_port, "alpha", path))  # single use
    page.wait_for_selector("#reset-invalid")
    sign_in(page, live_port, "alpha", member.email, "a-browser-new-password")
    page.wait_for_load_state()
    assert browser_get(page, url(live_port, "alpha", "/api/v1/me/")) == 200


def test_mfa_via_api_then_token_and_web_login_with_the_second_factor(
    browser_page, live_port, committed
):
    member = committed("alpha")
    page = browser_page
    _, pair = api_call(
        live_port,
        "alpha",
        "POST",
        "/api/v1/auth/token/",
        {"email": member.email, "password": PASSWORD},
    )
    token = pair["access"]
    status, started = api_call(live_port, "alpha", "POST", "/api/v1/me/mfa/totp/", token=token)
    assert status == 201
    secret = started["secret"]
    status, confirmed = api_call(
        live_port,
        "alpha",
        "POST",
        "/api/v1/me/mfa/totp/confirm/",
        {"code": totp_now(secret)},
        token=token,
    )
    codes = confirmed["recovery_codes"]
    assert status == 200 and len(codes) == 10

    def obtain(**extra):
        return api_call(
            live_port,
            "alpha",
            "POST",
            "/api/v1/auth/token/",
            {"email": member.email, "password": PASSWORD, **extra},
        )

    status, body = obtain()
    assert status == 401 and body["error"]["code"] == "mfa_required"
    assert obtain(otp=totp_now(secret))[0] == 200
    assert obtain(otp=codes[0])[0] == 200
    status, body = obtain(otp=codes[0])
    assert status == 401 and body["error"]["code"] == "mfa_invalid"

    # The web login asks for the code after the password.
    sign_in(page, live_port, "alpha", member.email)
    page.wait_for_selector("input[name=code]")
    assert "/accounts/mfa/authenticate/" in page.url
    doc_shot(page, "login-mfa-step")
    page.fill("input[name=code]", codes[1])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert browser_get(page, url(live_port, "alpha", "/api/v1/me/")) == 200
    page.goto(url(live_port, "alpha", "/accounts/mfa/"))
    assert "On:" in page.inner_text("#mfa-status")
    doc_shot(page, "account-mfa")


def test_member_sets_up_totp_on_the_account_page(browser_page, live_port, committed):
    member = committed("alpha")
    page = browser_page
    sign_in(page, live_port, "alpha", member.email)
    page.wait_for_load_state()
    page.goto(url(live_port, "alpha", "/accounts/mfa/totp/activate/"))
    page.wait_for_selector("#totp-qr")
    doc_shot(page, "account-mfa-setup")
    secret = page.inner_text("#totp-secret").strip()
    page.fill("input[name=code]", totp_now(secret))
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert len(page.query_selector_all("#recovery-codes li")) == 10
    doc_shot(page, "account-recovery-codes")
