"""Support access in a real Chromium (Playwright): an operator starts it from the admin
on the root domain, lands in alpha's web app as a member with the banner, sees the
member's orders, is refused a write (read-only), ends it and finds the trail.

The session's live server thread (tests/browser.py) on its own connections: this test
commits and cleans up after itself. The operator's admin session is handed to the browser
as a cookie (signing in to the admin is tested in tests/tenants/test_dashboard_browser.py).
With ``TESSERA_DOC_SCREENSHOTS=1`` it refreshes docs/screenshots/support-*.png.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from tests.browser import browser, browser_marks, live_port, new_page
from tests.factories import PASSWORD
from tests.support import host_client, session_world

DOC_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
OPERATOR = "operator@support-browser.test"

pytestmark = [*browser_marks(), pytest.mark.usefixtures("committed_db")]
__all__ = ["browser", "live_port"]


@pytest.fixture
def world(committed_db):
    """Alpha with one committed order and an operator; all of it removed afterwards."""
    from django.contrib.sessions.models import Session

    from shared_apps.accounts.models import User
    from shared_apps.support.models import SupportSession
    from tenant_apps.audit.models import AuditEntry
    from tenant_apps.catalog.models import Category, Product
    from tenant_apps.orders.models import Customer, Order, OrderItem
    from tests.factories import CustomerFactory, OrderFactory

    alpha = session_world("alpha")
    connection.set_schema_to_public()
    SupportSession.objects.filter(admin__email=OPERATOR).delete()
    User.objects.filter(email=OPERATOR).delete()
    User.objects.create_superuser(email=OPERATOR, password=PASSWORD)
    connection.set_tenant(alpha.tenant)
    customer = CustomerFactory(name="Wile E. Coyote", email="wile@desert.test")
    OrderFactory(customer=customer, total=Decimal("98.00"), notes="rocket skates")
    connection.set_schema_to_public()
    yield alpha
    connection.set_schema_to_public()
    SupportSession.objects.filter(admin__email=OPERATOR).delete()
    User.objects.filter(email=OPERATOR).delete()
    tables = [
        m._meta.db_table
        for m in (OrderItem, Order, Customer, Product, Category, AuditEntry, Session)
    ]
    with connection.cursor() as cursor:  # DELETE, children first: a few rows each
        for table in tables:
            cursor.execute(f"DELETE FROM {alpha.schema_name}.{table}")


def shot(page, name: str) -> None:
    if os.environ.get("TESSERA_DOC_SCREENSHOTS"):
        page.screenshot(path=str(DOC_SHOTS / f"{name}.png"))


def test_operator_supports_a_member_read_only(world, browser, live_port):
    from shared_apps.accounts.models import User

    root, tenant_root = f"http://localhost:{live_port}", f"http://{world.host}:{live_port}"
    tenant_pk, member_pk = world.tenant.pk, world.user("member").pk
    admin = host_client("localhost")  # the root domain: a session in the public schema
    admin.force_login(User.objects.get(email=OPERATOR))
    page = new_page(browser)
    page.context.add_cookies(
        [{"name": "sessionid", "value": admin.cookies["sessionid"].value, "url": root + "/"}]
    )
    # The operator, signed in to the platform admin, opens alpha.
    page.goto(f"{root}/admin/tenants/tenant/{tenant_pk}/change/")
    page.click("#support-access-link")
    page.select_option("#id_member", str(member_pk))
    shot(page, "support-admin-start")
    page.click("#support-start")

    # Handed to alpha's own host: confirm, then the member's web app.
    page.wait_for_url(f"{tenant_root}/support/start/?token=*")
    assert "as member@alpha.test" in page.inner_text("main")
    page.click("#start-support")
    page.wait_for_url(f"{tenant_root}/")
    banner = page.inner_text("#support-banner")
    assert f"Support access: {OPERATOR} as member@alpha.test, read-only, ends at" in banner
    page.goto(f"{tenant_root}/app/orders/")
    assert "Wile E. Coyote" in page.inner_text("main")
    assert page.is_visible("#end-support")
    shot(page, "support-banner")

    # A write is refused: read-only.
    page.goto(f"{tenant_root}/app/products/new/")
    page.fill("#id_name", "Not by support")
    page.fill("#id_price", "1")
    response_info = page.expect_response(lambda r: r.request.method == "POST")
    with response_info as info:
        page.click("#save-product")
    assert info.value.status == 403
    assert "read-only" in page.inner_text("main")
    assert page.is_visible("#support-banner")
    shot(page, "support-read-only")

    # Ended: back in the admin, with the trail; alpha's host is signed out.
    page.click("#end-support")
    page.wait_for_url(f"{tenant_root}/support/ended/?by=admin")
    assert not page.is_visible("#support-banner")
    page.click("#back-to-admin")
    page.wait_for_url(f"{root}/admin/tenants/tenant/{tenant_pk}/support/")
    trail = page.inner_text("#support-audit")
    assert "support.started" in trail and "support.ended" in trail
    assert f"support {OPERATOR} as member@alpha.test" in trail
    assert "ended (ended)" in page.inner_text("#support-sessions")
    shot(page, "support-admin-trail")
    page.goto(f"{tenant_root}/app/orders/")
    assert "/accounts/login/" in page.url

    from tenant_apps.catalog.models import Product

    connection.set_tenant(world.tenant)
    assert not Product.objects.filter(name="Not by support").exists()
    connection.set_schema_to_public()
