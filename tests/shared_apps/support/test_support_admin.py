"""Support access from the platform admin on the root domain (ADR 0024)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection

from shared_apps.accounts.models import TenantSecurityPolicy, User
from shared_apps.support.models import SupportSession
from tests.factories import PASSWORD
from tests.support import host_client


@pytest.fixture
def admin_client(db):
    admin = User.objects.create_superuser(email="ops@platform.test", password=PASSWORD)
    client = host_client("localhost")
    connection.set_schema_to_public()
    client.force_login(admin)
    return client


def test_the_tenant_page_links_to_support_access(alpha, admin_client):
    page = admin_client.get(f"/admin/tenants/tenant/{alpha.tenant.pk}/change/")
    assert page.status_code == 200
    assert f"/admin/tenants/tenant/{alpha.tenant.pk}/support/" in page.content.decode()


def test_the_admin_starts_and_is_handed_to_the_tenants_host(alpha, admin_client):
    url = f"/admin/tenants/tenant/{alpha.tenant.pk}/support/"
    form = admin_client.get(url)
    assert form.status_code == 200
    html = form.content.decode()
    assert "member@alpha.test (member)" in html and "Start support access" in html
    member = alpha.user("member")
    response = admin_client.post(url, {"member": member.pk, "reason": ""})
    assert response.status_code == 302, response.content[:500]
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc, target.path) == (
        "http",
        "alpha.localhost",
        "/support/start/",
    )
    token = parse_qs(target.query)["token"][0]
    browser = host_client("alpha.localhost")
    assert browser.post("/support/start/", {"token": token}).status_code == 302
    assert b"support-banner" in browser.get("/app/orders/").content
    # the trail on the admin's page
    trail = admin_client.get(url).content.decode()
    assert "support.started" in trail and "active" in trail
    # the admin can end it from here; the tenant host signs out on its next request
    row = SupportSession.objects.get()
    assert (
        admin_client.post(f"/admin/tenants/tenant/support-sessions/{row.pk}/end/").status_code
        == 302
    )
    assert browser.get("/app/orders/")["Location"] == "/support/ended/"


def test_refusals_show_on_the_form_and_start_nothing(alpha, admin_client):
    url = f"/admin/tenants/tenant/{alpha.tenant.pk}/support/"
    staff = alpha.user("admin")
    staff.is_staff = True
    staff.save()
    response = admin_client.post(url, {"member": staff.pk})
    assert response.status_code == 403
    assert "not platform admins" in response.content.decode()
    response = admin_client.post(url, {"member": alpha.user("member").pk, "allow_writes": "on"})
    assert response.status_code == 400 and "needs a written reason" in response.content.decode()
    TenantSecurityPolicy.objects.create(tenant=alpha.tenant, support_access_allowed=False)
    response = admin_client.post(url, {"member": alpha.user("member").pk})
    assert response.status_code == 403 and "turned support access off" in response.content.decode()
    assert SupportSession.objects.count() == 0


def test_staff_without_superuser_do_not_reach_it(alpha, db):
    staff = User.objects.create_user(email="staff@platform.test", password=PASSWORD, is_staff=True)
    client = host_client("localhost")
    connection.set_schema_to_public()
    client.force_login(staff)
    response = client.post(
        f"/admin/tenants/tenant/{alpha.tenant.pk}/support/", {"member": alpha.user("member").pk}
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert SupportSession.objects.count() == 0
