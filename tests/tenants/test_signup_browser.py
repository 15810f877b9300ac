"""Sign-up in a real browser (headless Chromium via Playwright), against the session's
live server (tests/browser.py).

The live server commits to the test database, so the test cleans up after itself.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.browser import browser, browser_marks, live_port, new_page
from tests.factories import PASSWORD

pytestmark = browser_marks()
__all__ = ["browser", "live_port"]


@pytest.fixture
def committed_cleanup(django_db_setup, django_db_blocker):
    """Torn down after ``db`` has rolled back: deletes what the live server committed."""
    yield
    from shared_apps.accounts.models import User
    from tenants.models import Tenant
    from tenants.services import tenant_destroy

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(subdomain="zeta-browser"):
            tenant_destroy(tenant=tenant)
        User.objects.filter(email="zeta@browser.test").delete()


@pytest.fixture
def live_url(committed_cleanup, db, live_port):
    """The live server, on its own database connections (it sees only committed data)."""
    return f"http://localhost:{live_port}"


def test_signup_form_in_chromium_gives_a_working_tenant(browser, live_url):
    page = new_page(browser, java_script_enabled=False)  # the form needs no JavaScript
    page.goto(f"{live_url}/signup/")
    page.fill("#id_name", "Zeta Browser Co")
    page.fill("#id_subdomain", "www")  # reserved: the form must say so
    page.fill("#id_email", "zeta@browser.test")
    page.fill("#id_password", PASSWORD)
    page.select_option("#id_plan", "starter")
    page.click("button[type=submit]")
    assert "That subdomain is reserved." in page.content()

    page.fill("#id_subdomain", "zeta-browser")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#tenant-url")
    assert page.inner_text("h1") == "Your organisation is ready"
    tenant_url = page.get_attribute("#tenant-url", "href")
    port = live_url.rsplit(":", 1)[1]
    assert tenant_url == f"http://zeta-browser.localhost:{port}/"

    # The new tenant's host answers (*.localhost resolves to loopback in Chromium).
    docs = page.goto(f"{tenant_url}api/v1/docs/")
    assert docs.status == 200
    me = page.goto(f"{tenant_url}api/v1/me/")
    assert me.status == 401  # served by the tenant, which wants a login
