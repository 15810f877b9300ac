"""The page gate (shared_apps/core/pages.py) and the dashboard (tenants/pages.py).

Anonymous visitors are sent to the login page, the access rule is the API's
(``tenants.permissions.authorize``), domain errors are HTML pages of their status, and
a session of another tenant is not a session here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from shared_apps.core.errors import Message
from tenants.models import Tenant, TenantStatus
from tenants.services import tenant_set_status
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
)
from tests.support import host_client, session_client
from tests.web.conftest import csp_of

APP_PAGES = [
    "/",
    "/app/products/",
    "/app/customers/",
    "/app/orders/",
    "/app/exports/",
    "/app/team/",
    "/app/settings/",
]


@pytest.mark.parametrize("path", [*APP_PAGES, "/app/billing/", "/app/orders/new/"])
def test_anonymous_visitors_are_sent_to_the_login_page(alpha, path):
    response = host_client(alpha.host).get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_the_front_page_is_no_longer_swagger(alpha):
    response = host_client(alpha.host).get("/")
    assert "/api/v1/docs/" not in response["Location"]
    assert host_client(alpha.host).get("/api/v1/docs/").status_code == 200


@pytest.mark.parametrize("path", APP_PAGES)
def test_every_role_reads_every_page_with_a_strict_csp(page_client, path):
    for role in ("owner", "admin", "member", "viewer"):
        response = page_client(role).get(path)
        assert response.status_code == 200, (role, path)
        assert response["Content-Type"].startswith("text/html")
        policy = csp_of(response)
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"  # no 'unsafe-inline' on the app's pages
        assert "<style" not in response.content.decode()
        assert " style=" not in response.content.decode()


def test_another_tenants_session_cookie_is_no_session_here(alpha, beta):
    beta_client = session_client(beta, beta.user("owner"))
    cookie = beta_client.cookies["sessionid"].value
    client = host_client(alpha.host)
    client.cookies["sessionid"] = cookie  # beta's cookie, replayed on alpha's host
    response = client.get("/app/products/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_signed_in_non_member_gets_a_403_page(alpha, beta):
    stranger = UserFactory()
    MembershipFactory(organization=beta.tenant.organization, user=stranger, role="owner")
    response = session_client(alpha, stranger).get("/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert Message.NOT_A_MEMBER in response.content.decode()


def test_an_unknown_page_is_an_html_404(page_client):
    response = page_client("owner").get("/app/nothing-here/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert response["Content-Type"].startswith("text/html")


def test_the_dashboard_shows_plan_status_usage_summary_and_revenue_chart(alpha, page_client):
    connection.set_tenant(alpha.tenant)
    product = ProductFactory(price=Decimal("12.50"))
    OrderFactory(total=Decimal("25.00"), status="paid", customer=CustomerFactory())
    OrderFactory(total=Decimal("5.00"), status="canceled")
    connection.set_schema_to_public()

    response = page_client("member").get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<p class="stat-value" id="plan-name">Starter</p>' in html
    assert 'id="tenant-status">Trialing</span>' in html
    assert "Trial ends" in html
    assert 'id="summary-revenue">25.00</p>' in html
    assert "1 order · paid 25.00" in html
    assert "1 canceled" in html
    # Usage against the Starter plan's limits (10 members: owner, admin, member, viewer).
    assert 'aria-label="Members: 4 of 10"' in html
    assert 'aria-label="Products: 1 of 1000"' in html
    assert 'aria-label="Orders this month: 2 of 2000"' in html
    assert '<svg class="chart"' in html and "<rect " in html
    assert product.name not in html  # the dashboard lists orders, not the catalog
    assert response.context["can_write"] is True


def test_a_viewer_sees_no_write_buttons_on_the_dashboard(page_client):
    response = page_client("viewer").get("/")
    assert response.context["can_write"] is False
    assert "New order" not in response.content.decode()


def test_a_suspended_tenant_says_why_and_refuses_writes_with_a_402_page(alpha, page_client):
    tenant_set_status(
        tenant=alpha.tenant, status=TenantStatus.SUSPENDED, acting_user=None, reason="trial ended"
    )
    client = page_client("owner")
    response = client.get("/app/products/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="read-only-banner"' in html
    assert "Reason: trial ended." in html
    assert 'href="/app/billing/"' in html
    assert response.context["can_write"] is False
    assert "New product" not in html

    refused = client.post("/app/products/new/", {"name": "X", "price": "1", "stock": 1})
    assert refused.status_code == 402
    assert Message.TENANT_SUSPENDED in refused.content.decode()
    connection.set_tenant(alpha.tenant)
    from tenant_apps.catalog.models import Product

    assert not Product.objects.exists()


def test_a_canceled_tenant_is_read_only_too(alpha, page_client):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=TenantStatus.CANCELED)
    response = page_client("member").post("/app/customers/new/", {"name": "A", "email": "a@b.test"})
    assert response.status_code == 402


def test_a_page_cannot_drop_the_gate_or_misspell_a_role():
    from django.core.exceptions import ImproperlyConfigured

    from shared_apps.core.pages import TenantPageView
    from shared_apps.organizations.roles import Role

    with pytest.raises(ImproperlyConfigured, match="dispatch"):

        class Open(TenantPageView):
            def dispatch(self, request, *args, **kwargs): ...

    with pytest.raises(ImproperlyConfigured, match="wirte_role"):

        class Typo(TenantPageView):
            wirte_role = Role.ADMIN

    class Fine(TenantPageView):
        write_role = Role.ADMIN

    assert Fine.implements_gate and not Fine.dangerously_public
