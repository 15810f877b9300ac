"""Platform admin: superusers only, on the public host only; suspend and resume."""

from __future__ import annotations

from django.test import Client

from tenants.models import Tenant, TenantEvent
from tests.factories import PASSWORD, UserFactory
from tests.support import bearer_client

ADMIN = "/admin/"


def admin_client(user) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def test_superuser_sees_tenants_with_status_plan_domain_members(alpha, beta):
    response = admin_client(UserFactory(superuser=True)).get(f"{ADMIN}tenants/tenant/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Alpha Ltd", "Beta Ltd", "alpha.localhost", "Trialing", "Starter"):
        assert text in html
    changelist = response.context["cl"]
    alpha_row = next(t for t in changelist.result_list if t.subdomain == "alpha")
    assert alpha_row.member_count == 4
    assert alpha_row.primary_domain == "alpha.localhost"


def test_tenant_detail_shows_domains_inline(alpha):
    tenant = alpha.tenant
    response = admin_client(UserFactory(superuser=True)).get(
        f"{ADMIN}tenants/tenant/{tenant.pk}/change/"
    )
    assert response.status_code == 200
    assert "alpha.localhost" in response.content.decode()


def test_suspend_and_resume_actions(alpha):
    superuser = UserFactory(superuser=True)
    client = admin_client(superuser)
    tenant = alpha.tenant
    api = bearer_client(alpha)
    assert api.get("/api/v1/me/").json()["tenant"]["status"] == "trialing"

    response = client.post(
        f"{ADMIN}tenants/tenant/",
        {"action": "suspend_tenants", "_selected_action": [tenant.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Tenant.objects.get(pk=tenant.pk).status == "suspended"
    assert api.get("/api/v1/me/").json()["tenant"]["read_only"] is True
    event = TenantEvent.objects.filter(tenant=tenant, action="tenant.status_changed").first()
    assert event.actor == superuser and event.detail["to"] == "suspended"

    client.post(
        f"{ADMIN}tenants/tenant/", {"action": "resume_tenants", "_selected_action": [tenant.pk]}
    )
    assert Tenant.objects.get(pk=tenant.pk).status == "active"
    assert api.get("/api/v1/me/").json()["tenant"]["status"] == "active"


def test_resume_of_a_tenant_that_is_not_suspended_is_reported_not_applied(alpha):
    client = admin_client(UserFactory(superuser=True))
    response = client.post(
        f"{ADMIN}tenants/tenant/",
        {"action": "resume_tenants", "_selected_action": [alpha.tenant.pk]},
        follow=True,
    )
    assert "Only a suspended tenant can be resumed." in response.content.decode()
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "trialing"


def test_tenant_owner_cannot_enter_the_platform_admin(alpha):
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="owner@alpha.test", password=PASSWORD)
    response = client.get(ADMIN)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_without_superuser_cannot_enter(db):
    response = admin_client(UserFactory(is_staff=True)).get(ADMIN)
    assert response.status_code == 302


def test_admin_is_not_routed_on_tenant_hosts(alpha):
    client = Client(HTTP_HOST=alpha.host)
    client.force_login(UserFactory(superuser=True))
    assert client.get(ADMIN).status_code == 404


def test_admin_login_page_works_with_email(db):
    UserFactory(email="root@tessera.test", superuser=True)
    client = Client(HTTP_HOST="localhost")
    response = client.post(
        f"{ADMIN}login/?next={ADMIN}",
        {"username": "root@tessera.test", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert client.get(ADMIN).status_code == 200


def test_organisation_and_user_admin_pages(alpha):
    client = admin_client(UserFactory(superuser=True))
    assert "owner@alpha.test" in client.get(f"{ADMIN}accounts/user/?q=alpha").content.decode()
    assert "Alpha Ltd" in client.get(f"{ADMIN}organizations/organization/").content.decode()
    assert client.get(f"{ADMIN}billing/plan/").status_code == 200
    assert client.get(f"{ADMIN}tenants/domain/").status_code == 200
    assert client.get(f"{ADMIN}tenants/spareschema/").status_code == 200
