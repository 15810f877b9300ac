"""What a member does in the web app, in a real Chromium (Playwright), one test per journey.

The pages are served by the session's live server thread (tests/browser.py) on its own
database connections, so these tests commit (no wrapping transaction) and clean alpha's
tables afterwards. A member is signed in by creating a session in alpha's schema (what a
login does) and handing its cookie to a fresh browser context. A failing journey leaves
its pages' screenshots in ``.local/screenshots/`` (git-ignored).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection

from tests import celery_support
from tests.browser import browser, browser_marks, live_port, new_page, signed_in_page
from tests.committed_worlds import committed_alpha as alpha
from tests.committed_worlds import committed_beta as beta
from tests.factories import PASSWORD

# A real Celery worker for the export journey (see tests/celery_support.py).
celery_prefix = celery_support.celery_prefix
worker = celery_support.worker

# No xdist group: the Chromium and the live server are per xdist worker (tests/browser.py)
# and these tests clean what they commit, so they may run on either worker; the export
# journey goes where the Celery worker runs (conftest's group of ``worker``).
pytestmark = [*browser_marks(), pytest.mark.usefixtures("committed_db")]
# Fixtures: ``alpha``/``beta`` are the session tenants without ``db``, since these tests
# commit (tests/committed_worlds.py).
__all__ = ["alpha", "beta", "browser", "live_port"]


def _tenant_tables() -> list[str]:
    from django.contrib.sessions.models import Session

    from tenant_apps.audit.models import AuditEntry
    from tenant_apps.catalog.models import Category, Product
    from tenant_apps.exports.models import Export
    from tenant_apps.orders.models import Customer, Order, OrderItem

    models = [OrderItem, Order, Customer, Product, Category, Export, AuditEntry, Session]
    return [model._meta.db_table for model in models]


@pytest.fixture
def committed_alpha(committed_db, alpha):
    """Alpha as the session built it, restored after the journey (rows committed by the
    live server are removed: alpha's data tables, invitations, new accounts)."""
    from shared_apps.accounts.models import User
    from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser

    users_before = set(User.objects.values_list("pk", flat=True))
    yield alpha
    from django.core.files.storage import default_storage

    from tenant_apps.exports.models import Export

    connection.set_tenant(alpha.tenant)
    for path in Export.objects.exclude(file_path="").values_list("file_path", flat=True):
        default_storage.delete(path)
    connection.set_schema_to_public()
    tenant = alpha.tenant
    OrganizationInvitation.objects.filter(organization_id=tenant.organization_id).delete()
    new_users = User.objects.exclude(pk__in=users_before)
    OrganizationUser.objects.filter(user__in=new_users).delete()
    new_users.delete()
    # DELETE, children first: a few rows each, where TRUNCATE rewrites every table file.
    with connection.cursor() as cursor:
        for table in _tenant_tables():
            cursor.execute(f"DELETE FROM {alpha.schema_name}.{table}")


@pytest.fixture
def live_url(committed_alpha, live_port):
    return f"http://{committed_alpha.host}:{live_port}"


def signed_in(browser, live_url: str, world, role: str):
    """A browser page with a session of ``world``'s ``role`` user (cookie on its host)."""
    return signed_in_page(browser, live_url, world, role)


def in_alpha(alpha):
    connection.set_tenant(alpha.tenant)


def seed_catalog(alpha):
    from tests.factories import CustomerFactory, ProductFactory

    in_alpha(alpha)
    try:
        customer = CustomerFactory(name="Wile E. Coyote", email="wile@desert.test")
        anvil = ProductFactory(name="Anvil", price=Decimal("49.00"), stock=10)
        skates = ProductFactory(name="Rocket skates", price=Decimal("129.50"), stock=4)
    finally:
        connection.set_schema_to_public()
    return customer, anvil, skates


def test_a_member_sees_the_dashboard(browser, live_url, committed_alpha):
    from tests.factories import OrderFactory

    customer, _, _ = seed_catalog(committed_alpha)
    in_alpha(committed_alpha)
    OrderFactory(customer=customer, total=Decimal("98.00"), status="paid")
    connection.set_schema_to_public()

    page = signed_in(browser, live_url, committed_alpha, "member")
    page.goto(live_url + "/")
    assert page.inner_text("h1") == "Dashboard"
    assert page.inner_text("#plan-name") == "Starter"
    assert page.inner_text("#tenant-status") == "Trialing"
    assert page.inner_text("#summary-revenue") == "98.00"
    assert page.get_attribute("#usage-members meter", "value") == "4"
    assert page.locator("svg.chart rect").count() == 1
    assert page.get_by_role("link", name="Products").is_visible()


def test_a_member_creates_a_product(browser, live_url, committed_alpha):
    page = signed_in(browser, live_url, committed_alpha, "member")
    page.goto(live_url + "/app/products/")
    page.click("#new-product")
    page.fill("#id_name", "Giant magnet")
    page.fill("#id_price", "-3")
    page.click("#save-product")
    assert "greater than or equal to 0" in page.inner_text("#id_price_error")
    assert page.get_attribute("#id_price", "aria-invalid") == "true"
    page.fill("#id_price", "75.25")
    page.fill("#id_stock", "12")
    page.select_option("#id_status", "active")
    page.click("#save-product")
    page.wait_for_url(live_url + "/app/products/")
    assert "Product “Giant magnet” created." in page.inner_text(".flash")
    assert "Giant magnet" in page.inner_text("#product-table")

    from tenant_apps.catalog.models import Product

    in_alpha(committed_alpha)
    product = Product.objects.get()
    assert (product.name, product.price, product.stock) == ("Giant magnet", Decimal("75.25"), 12)


def test_a_member_places_an_order_with_two_lines_and_cancels_it(browser, live_url, committed_alpha):
    customer, anvil, skates = seed_catalog(committed_alpha)
    page = signed_in(browser, live_url, committed_alpha, "member")
    page.goto(live_url + "/app/orders/")
    page.click("#new-order")
    page.select_option("#id_customer", str(customer.pk))
    page.select_option("#id_lines-0-product", str(anvil.pk))
    page.fill("#id_lines-0-quantity", "2")
    page.click("#add-line")  # htmx swaps the form with one more row
    page.wait_for_selector("#id_lines-1-product")
    assert page.input_value("#id_lines-0-quantity") == "2"  # kept
    page.select_option("#id_lines-1-product", str(skates.pk))
    page.fill("#id_lines-1-quantity", "1")
    page.click("#place-order")
    page.wait_for_selector("#order-status")
    assert page.inner_text("#order-status") == "Placed"
    assert page.inner_text("#order-total") == "227.50"
    assert page.locator("#order-items tbody tr").count() == 2

    page.click("#cancel-order")
    page.wait_for_selector("#order-status:has-text('Canceled')")
    assert page.locator("#cancel-order").count() == 0

    from tenant_apps.catalog.models import Product
    from tenant_apps.orders.models import Order

    in_alpha(committed_alpha)
    assert Order.objects.get().status == "canceled"
    assert Product.objects.get(pk=anvil.pk).stock == 10  # restored
    assert Product.objects.get(pk=skates.pk).stock == 4


def test_an_export_turns_ready_by_htmx_polling(browser, live_url, committed_alpha, worker):
    customer, _, _ = seed_catalog(committed_alpha)
    from tests.factories import OrderFactory

    in_alpha(committed_alpha)
    OrderFactory(customer=customer, total=Decimal("10.00"))
    connection.set_schema_to_public()

    page = signed_in(browser, live_url, committed_alpha, "member")
    page.goto(live_url + "/app/exports/")
    page.click("#request-export")
    page.wait_for_selector("#export-table")
    first = page.locator("#export-table tbody tr").first
    # The real worker writes the file; the row, polled (htmx), shows the link.
    page.wait_for_selector("#export-table a.download", timeout=30_000)
    assert first.locator("[data-status]").get_attribute("data-status") == "done"
    assert first.locator("td.num").inner_text() == "1"
    with page.expect_download() as download:
        page.click("#export-table a.download")
    content = Path(download.value.path()).read_text()
    assert content.splitlines()[0].startswith("id,created,status,customer_name")
    assert "Wile E. Coyote" in content


def test_an_admin_invites_and_the_invitee_joins_by_the_link(
    browser, live_url, committed_alpha, tasks_inline
):
    admin = signed_in(browser, live_url, committed_alpha, "admin")
    admin.goto(live_url + "/app/team/")
    admin.fill("#id_email", "new.colleague@example.test")
    admin.select_option("#id_role", "member")
    admin.click("#send-invitation")
    admin.wait_for_selector("#invitation-table")
    assert "new.colleague@example.test" in admin.inner_text("#invitation-table")

    assert len(mail.outbox) == 1
    from tests.web.conftest import link_in

    port = live_url.rsplit(":", 1)[1]
    link = link_in(mail.outbox[0].body, f"{committed_alpha.host}:{port}")

    invitee = new_page(browser)  # a second browser: nobody signed in
    invitee.goto(link)
    assert "admin@alpha.test" in invitee.inner_text("#invitation-summary")
    assert "Alpha Ltd" in invitee.inner_text("#invitation-summary")
    invitee.fill("#id_full_name", "New Colleague")
    invitee.fill("#id_password", PASSWORD)
    invitee.fill("#id_password_again", PASSWORD)
    invitee.click("#join")
    invitee.wait_for_url(live_url + "/")
    assert invitee.inner_text("h1") == "Dashboard"
    assert "Welcome to Alpha Ltd." in invitee.inner_text(".flash")

    # The same link a second time: a clear page, nobody joins twice.
    again = new_page(browser)
    response = again.goto(link)
    assert response is not None and response.status == 410
    assert "already used" in again.inner_text("h1")


def test_a_viewer_sees_no_write_buttons(browser, live_url, committed_alpha):
    from tests.factories import OrderFactory

    customer, _, _ = seed_catalog(committed_alpha)
    in_alpha(committed_alpha)
    order = OrderFactory(customer=customer)
    connection.set_schema_to_public()

    page = signed_in(browser, live_url, committed_alpha, "viewer")
    for path in ("/", "/app/products/", "/app/orders/", f"/app/orders/{order.pk}/"):
        page.goto(live_url + path)
        assert page.locator("main form[method=post]").count() == 0, path
        assert page.locator("#new-product, #new-order, #cancel-order").count() == 0, path
    page.goto(live_url + "/app/team/")
    assert page.locator("#invite-form, #member-table select").count() == 0
    assert page.locator("#member-table form").count() == 1  # "Leave" (their own row)
    assert "Anvil" in page.goto(live_url + "/app/products/").text()
    assert page.goto(live_url + "/app/products/new/").status == 403
