"""The operator's dashboard in a real browser: an operator signs in to the admin and
lands on the figures (headless Chromium via Playwright, against the session's live
server, tests/browser.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.browser import browser, browser_marks, live_port, new_page
from tests.factories import PASSWORD

OPERATOR = "operator@dashboard-browser.test"
DOC_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = browser_marks()
__all__ = ["browser", "live_port"]


@pytest.fixture
def operator(django_db_setup, django_db_blocker):
    """A committed superuser (the live server sees committed rows only), deleted after."""
    from shared_apps.accounts.models import User

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        User.objects.filter(email=OPERATOR).delete()
        User.objects.create_superuser(email=OPERATOR, password=PASSWORD)
    yield OPERATOR
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        User.objects.filter(email=OPERATOR).delete()


@pytest.fixture
def live_url(operator, db, live_port):
    return f"http://localhost:{live_port}"


def test_operator_signs_in_and_sees_the_dashboard(browser, live_url, operator):
    page = new_page(browser)
    page.goto(f"{live_url}/admin/")
    page.fill("#id_username", operator)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#ops-tenants")
    assert "Operator dashboard" in page.content()
    assert int(page.inner_text("#ops-tenants")) >= 2  # alpha and beta
    assert page.locator(".ops-chart rect").count() == 16  # 8 weeks x 2 series
    # the pool's target (the test settings' TENANT_SPARE_SCHEMAS)
    assert page.inner_text("#ops-spares").split(" / ")[1] == str(settings.TENANT_SPARE_SCHEMAS)
    # dj-stripe's mirror is listed last, under its own heading
    headings = page.locator(".app-list caption, #content-main .module caption").all()
    assert "STRIPE MIRROR" in headings[-1].inner_text().upper()
    if os.environ.get("TESSERA_DOC_SCREENSHOTS"):  # refresh the README's picture
        page.screenshot(path=str(DOC_SHOTS / "admin-dashboard.png"))
