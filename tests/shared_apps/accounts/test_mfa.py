"""TOTP MFA with recovery codes: API enrolment, auth/token/ with otp, the web login's TOTP
step, the owner's "MFA required" rule, and ADMIN_REQUIRE_MFA."""

from __future__ import annotations

import re
import uuid

import pytest
from allauth.mfa.models import Authenticator
from django.db import connection
from django.test import Client

from shared_apps.accounts.models import TenantSecurityPolicy
from shared_apps.accounts.services import (
    totp_setup_begin,
    totp_setup_confirm,
)
from shared_apps.core.errors import ErrorCode, Message
from tenant_apps.audit.models import AuditEntry
from tests.factories import PASSWORD, UserFactory
from tests.shared_apps.accounts.conftest import new_member, totp_now
from tests.support import bearer_client, error_of, host_client, session_client

# A <script> element without a src (the vendored htmx file is allowed: CSP script-src 'self').
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)")

TOKEN = "/api/v1/auth/token/"
TOTP = "/api/v1/me/mfa/totp/"
CONFIRM = "/api/v1/me/mfa/totp/confirm/"


def token_client(world, user):
    from tenants.authentication import tenant_token_pair

    client = host_client(world.host)
    pair = tenant_token_pair(user=user, tenant=world.tenant)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return client


def enable_mfa(world, user) -> tuple[str, list[str]]:
    """Through the API: returns (secret, recovery codes)."""
    client = token_client(world, user)
    started = client.post(TOTP)
    assert started.status_code == 201, started.content
    secret = started.json()["secret"]
    confirmed = client.post(CONFIRM, {"code": totp_now(secret)}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    return secret, confirmed.json()["recovery_codes"]


def obtain(world, user, **extra):
    return host_client(world.host).post(
        TOKEN, {"email": user.email, "password": PASSWORD, **extra}, format="json"
    )


def audit_actions(world) -> list[str]:
    connection.set_tenant(world.tenant)
    try:
        return list(AuditEntry.objects.values_list("action", flat=True))
    finally:
        connection.set_schema_to_public()


def test_enrolment_through_the_api(alpha, member, mailbox):
    client = token_client(alpha, member)
    started = client.post(TOTP)
    body = started.json()
    assert set(body) == {"secret", "otpauth_url"}
    assert body["otpauth_url"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_url"]
    assert "Alpha%20Ltd" in body["otpauth_url"]  # the issuer names the organisation

    wrong = client.post(CONFIRM, {"code": "000000"}, format="json")
    assert wrong.status_code == 400 and error_of(wrong)["code"] == ErrorCode.MFA_INVALID
    assert not Authenticator.objects.filter(user=member).exists()

    confirmed = client.post(CONFIRM, {"code": totp_now(body["secret"])}, format="json")
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    totp = Authenticator.objects.get(user=member, type=Authenticator.Type.TOTP)
    assert body["secret"] not in str(totp.data)  # stored encrypted, never in clear
    rc = Authenticator.objects.get(user=member, type=Authenticator.Type.RECOVERY_CODES)
    assert not any(code in str(rc.data) for code in codes)
    assert "auth.mfa_enabled" in audit_actions(alpha)
    assert any("turned on" in m.subject for m in mailbox)
    assert "Alpha Ltd" in mailbox[-1].subject

    again = client.post(TOTP)
    assert again.status_code == 409 and error_of(again)["code"] == ErrorCode.MFA_ALREADY_ENABLED


def test_confirm_without_a_started_setup_is_refused(alpha, member):
    response = token_client(alpha, member).post(CONFIRM, {"code": "123456"}, format="json")
    assert response.status_code == 400
    assert error_of(response)["message"] == Message.MFA_SETUP_NOT_STARTED


def test_mfa_endpoints_need_a_member(alpha, beta):
    assert host_client(alpha.host).post(TOTP).status_code == 401
    # alpha's token on beta's host
    response = bearer_client(alpha, "owner", host=beta.host).post(TOTP)
    assert response.status_code == 401


def test_token_login_with_mfa_needs_the_otp(alpha, member, mailbox):
    secret, _ = enable_mfa(alpha, member)

    missing = obtain(alpha, member)
    assert missing.status_code == 401
    assert error_of(missing) == {
        "code": ErrorCode.MFA_REQUIRED,
        "message": Message.MFA_REQUIRED,
        "fields": {},
    }
    wrong = obtain(alpha, member, otp="123456")
    assert wrong.status_code == 401 and error_of(wrong)["code"] == ErrorCode.MFA_INVALID

    ok = obtain(alpha, member, otp=totp_now(secret))
    assert ok.status_code == 200 and {"access", "refresh"} <= set(ok.json())


def test_token_login_with_a_recovery_code_works_once(alpha, member):
    _, codes = enable_mfa(alpha, member)
    first = obtain(alpha, member, otp=codes[3])
    assert first.status_code == 200 and {"access", "refresh"} <= set(first.json())
    second = obtain(alpha, member, otp=codes[3])
    assert second.status_code == 401 and error_of(second)["code"] == ErrorCode.MFA_INVALID
    assert obtain(alpha, member, otp=codes[4]).status_code == 200
    assert "auth.recovery_code_used" in audit_actions(alpha)


def test_a_totp_works_once(alpha, member):
    secret, _ = enable_mfa(alpha, member)
    code = totp_now(secret)
    assert obtain(alpha, member, otp=code).status_code == 200
    reused = obtain(alpha, member, otp=code)  # the same TOTP again: refused
    assert reused.status_code == 401 and error_of(reused)["code"] == ErrorCode.MFA_INVALID
    stale = obtain(alpha, member, otp=totp_now(secret, offset=-2))  # a minute old
    assert stale.status_code == 401


def test_session_login_api_needs_the_otp_too(alpha, member):
    _, codes = enable_mfa(alpha, member)
    client = host_client(alpha.host)
    response = client.post(
        "/api/v1/auth/session/", {"email": member.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401 and error_of(response)["code"] == ErrorCode.MFA_REQUIRED
    response = client.post(
        "/api/v1/auth/session/",
        {"email": member.email, "password": PASSWORD, "otp": codes[0]},
        format="json",
    )
    assert response.status_code == 204


def test_turning_mfa_off_needs_a_code(alpha, member):
    _, codes = enable_mfa(alpha, member)
    client = token_client(alpha, member)
    wrong = client.delete(TOTP, {"code": "999999"}, format="json")
    assert wrong.status_code == 400 and error_of(wrong)["code"] == ErrorCode.MFA_INVALID
    assert client.delete(TOTP, {}, format="json").status_code == 400
    assert client.delete(TOTP, {"code": codes[0]}, format="json").status_code == 204
    assert not Authenticator.objects.filter(user=member).exists()
    assert obtain(alpha, member).status_code == 200  # the password alone again
    assert "auth.mfa_disabled" in audit_actions(alpha)
    again = client.delete(TOTP, {"code": codes[1]}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == ErrorCode.MFA_NOT_ENABLED


def test_wrong_codes_count_toward_the_lockout(alpha, member, settings):
    settings.LOGIN_LOCKOUT = {"ACCOUNT_FAILURES": 3, "IP_FAILURES": 1000, "WINDOW_SECONDS": 60}
    _, codes = enable_mfa(alpha, member)
    for _ in range(3):
        assert obtain(alpha, member, otp="000000").status_code == 401
    assert obtain(alpha, member, otp=codes[0]).status_code == 429


def test_the_services_refuse_a_second_enrolment(alpha, in_alpha, member, rf):
    request = rf.post("/", HTTP_HOST=alpha.host)
    setup = totp_setup_begin(user=member)
    codes = totp_setup_confirm(request=request, user=member, code=totp_now(setup.secret))
    assert len(codes) == 10
    from shared_apps.core.errors import MfaConflict

    with pytest.raises(MfaConflict):
        totp_setup_begin(user=member)


# Web login with the TOTP step ------------------------------------------------------------------


def test_web_login_asks_for_the_code_and_accepts_a_recovery_code_once(alpha, member):
    _, codes = enable_mfa(alpha, member)
    client = Client(HTTP_HOST=alpha.host)
    step = client.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    assert step.status_code == 302 and step["Location"] == "/accounts/mfa/authenticate/"
    assert client.get("/api/v1/me/").status_code == 401  # not signed in yet
    page = client.get("/accounts/mfa/authenticate/")
    assert page.status_code == 200 and 'name="code"' in page.content.decode()
    assert not INLINE_SCRIPT.search(page.content.decode())
    wrong = client.post("/accounts/mfa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200 and client.get("/api/v1/me/").status_code == 401
    done = client.post("/accounts/mfa/authenticate/", {"code": codes[0]})
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/api/v1/me/").status_code == 200
    assert "auth.recovery_code_used" in audit_actions(alpha)

    other = Client(HTTP_HOST=alpha.host)
    other.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    reused = other.post("/accounts/mfa/authenticate/", {"code": codes[0]})
    assert reused.status_code == 200 and other.get("/api/v1/me/").status_code == 401


def test_web_mfa_pages_show_a_qr_code_and_no_inline_script(alpha, member):
    client = Client(HTTP_HOST=alpha.host)
    client.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    index = client.get("/accounts/mfa/")
    assert index.status_code == 200 and "Set up an authenticator app" in index.content.decode()
    activate = client.get("/accounts/mfa/totp/activate/")
    html = activate.content.decode()
    assert activate.status_code == 200  # a fresh sign-in needs no second password prompt
    assert 'src="data:image/svg+xml;base64,' in html and not INLINE_SCRIPT.search(html)
    # A session that did not sign in recently must re-enter the password first.
    stale = session_client(alpha, member).get("/accounts/mfa/totp/activate/")
    assert stale.status_code == 302 and "/accounts/reauthenticate/" in stale["Location"]


# The owner's "MFA required" rule -----------------------------------------------------------


def grant_mfa_enforcement(world) -> None:
    """Alpha is on the free plan, which lacks the feature: a deal grants it."""
    from billing.models import TenantEntitlementOverride

    TenantEntitlementOverride.objects.create(
        tenant=world.tenant, key="mfa_enforcement", enabled=True, note="test deal"
    )


def test_requiring_mfa_is_an_entitlement(alpha):
    owner = new_member(alpha, role="owner")
    enable_mfa(alpha, owner)
    client = token_client(alpha, owner)
    response = client.patch("/api/v1/security/mfa/", {"mfa_required": True}, format="json")
    assert response.status_code == 402
    assert error_of(response)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN
    assert error_of(response)["fields"]["feature"] == "mfa_enforcement"
    assert not TenantSecurityPolicy.objects.filter(tenant=alpha.tenant, mfa_required=True).exists()
    grant_mfa_enforcement(alpha)
    assert (
        client.patch("/api/v1/security/mfa/", {"mfa_required": True}, format="json").status_code
        == 200
    )


def test_owner_requires_mfa_through_the_api(alpha):
    owner = new_member(alpha, role="owner")
    grant_mfa_enforcement(alpha)
    client = token_client(alpha, owner)
    refused = client.patch("/api/v1/security/mfa/", {"mfa_required": True}, format="json")
    assert refused.status_code == 409  # own MFA first
    enable_mfa(alpha, owner)
    response = client.patch("/api/v1/security/mfa/", {"mfa_required": True}, format="json")
    assert response.status_code == 200 and response.json() == {"mfa_required": True}
    assert client.get("/api/v1/security/mfa/").json() == {"mfa_required": True}
    assert TenantSecurityPolicy.objects.get(tenant=alpha.tenant).mfa_required
    assert "security.mfa_requirement_changed" in audit_actions(alpha)


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_only_owners_change_the_rule(alpha, role):
    user = new_member(alpha, role=role)
    response = token_client(alpha, user).patch(
        "/api/v1/security/mfa/", {"mfa_required": True}, format="json"
    )
    assert response.status_code == 403
    assert not TenantSecurityPolicy.objects.filter(tenant=alpha.tenant).exists()


def test_rule_of_alpha_does_not_touch_beta(alpha, beta):
    TenantSecurityPolicy.objects.create(tenant=alpha.tenant, mfa_required=True)
    person = new_member(beta)
    client = Client(HTTP_HOST=beta.host)
    response = client.post("/accounts/login/", {"login": person.email, "password": PASSWORD})
    assert response["Location"] == "/"


def test_members_without_mfa_are_sent_to_set_it_up(alpha, member):
    TenantSecurityPolicy.objects.create(tenant=alpha.tenant, mfa_required=True)
    client = Client(HTTP_HOST=alpha.host)
    response = client.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    assert response["Location"] == "/accounts/mfa/totp/activate/"
    # Any page of the app sends them back there until they have it.
    page = client.get("/app/products/")
    assert page.status_code == 302 and page["Location"] == "/accounts/mfa/totp/activate/"
    assert client.get("/accounts/mfa/").status_code == 200  # the account pages stay open


def test_settings_mfa_form_post(alpha):
    owner = new_member(alpha, role="owner")
    grant_mfa_enforcement(alpha)
    enable_mfa(alpha, owner)
    client = session_client(alpha, owner)
    page = client.get("/app/settings/mfa/")
    assert page.status_code == 200 and 'name="mfa_required"' in page.content.decode()
    response = client.post("/app/settings/mfa/", {"mfa_required": "on"})
    assert response.status_code == 302
    assert TenantSecurityPolicy.objects.get(tenant=alpha.tenant).mfa_required
    response = client.post("/app/settings/mfa/", {})
    assert not TenantSecurityPolicy.objects.get(tenant=alpha.tenant).mfa_required


def test_settings_mfa_form_refuses_a_non_owner_with_a_403_page(alpha):
    admin = new_member(alpha, role="admin")
    client = session_client(alpha, admin)
    response = client.post("/app/settings/mfa/", {"mfa_required": "on"})
    assert response.status_code == 403
    assert "This action needs the owner role or higher." in response.content.decode()
    assert not TenantSecurityPolicy.objects.filter(tenant=alpha.tenant).exists()


# ADMIN_REQUIRE_MFA ----------------------------------------------------------------------------


def test_admin_without_mfa_is_sent_to_set_it_up(db, settings):
    settings.ADMIN_REQUIRE_MFA = True
    root = UserFactory(email=f"root-{uuid.uuid4().hex[:8]}@example.test", superuser=True)
    client = Client(HTTP_HOST="localhost")
    anonymous = client.get(f"/{settings.DJANGO_ADMIN_URL}")
    assert anonymous.status_code == 302
    login = client.get(anonymous["Location"], follow=True)
    assert login.redirect_chain[-1][0].startswith("/accounts/login/")
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": root.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    admin_page = client.get(f"/{settings.DJANGO_ADMIN_URL}", follow=True)
    assert admin_page.redirect_chain[-1][0] == "/accounts/mfa/totp/activate/"


def test_admin_with_totp_signs_in_through_the_totp_step(db, settings):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP as TotpAuth
    from allauth.mfa.totp.internal.auth import generate_totp_secret

    settings.ADMIN_REQUIRE_MFA = True
    root = UserFactory(email=f"root-{uuid.uuid4().hex[:8]}@example.test", superuser=True)
    TotpAuth.activate(root, generate_totp_secret())
    codes = RecoveryCodes.activate(root).generate_codes()
    client = Client(HTTP_HOST="localhost")
    step = client.post("/accounts/login/?next=/admin/", {"login": root.email, "password": PASSWORD})
    assert step["Location"] == "/accounts/mfa/authenticate/"
    done = client.post("/accounts/mfa/authenticate/", {"code": codes[0]})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # A password-only session (the old admin login) is not enough.
    plain = Client(HTTP_HOST="localhost")
    plain.force_login(root)
    assert plain.get("/admin/").status_code == 302


def test_admin_mfa_is_off_by_default_and_on_in_production(settings):
    assert settings.ADMIN_REQUIRE_MFA is False
    from pathlib import Path

    source = Path("config/settings/production.py").read_text()
    assert 'ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=True)' in source
