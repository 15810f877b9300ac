"""The base permission every tenant API uses: roles and read-only tenants."""

from __future__ import annotations

import pytest
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.core.errors import ErrorCode, Message
from shared_apps.organizations.roles import Role
from tenants.models import Tenant, TenantStatus
from tests.factories import MembershipFactory, UserFactory
from tests.support import bearer_client, error_of, host_client, session_client


class DataApi(APIView):
    """A stand-in tenant endpoint using only the defaults."""

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        return Response({"written": True}, status=201)


class AdminOnlyApi(DataApi):
    write_role = Role.ADMIN


class BillingLikeApi(DataApi):
    write_role = Role.OWNER
    writes_allowed_when_read_only = True


urlpatterns = [
    path("api/v1/data/", DataApi.as_view()),
    path("api/v1/admin-only/", AdminOnlyApi.as_view()),
    path("api/v1/billing-like/", BillingLikeApi.as_view()),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.mark.parametrize(
    ("role", "read", "write", "admin_write"),
    [
        ("owner", 200, 201, 201),
        ("admin", 200, 201, 201),
        ("member", 200, 201, 403),
        ("viewer", 200, 403, 403),
    ],
)
def test_roles(alpha, role, read, write, admin_write):
    client = bearer_client(alpha, role)
    assert client.get("/api/v1/data/").status_code == read
    assert client.post("/api/v1/data/").status_code == write
    assert client.post("/api/v1/admin-only/").status_code == admin_write


def test_viewer_write_error_is_permission_denied(alpha):
    response = bearer_client(alpha, "viewer").post("/api/v1/data/")
    assert error_of(response)["code"] == ErrorCode.PERMISSION_DENIED


@pytest.mark.parametrize("status", [TenantStatus.SUSPENDED, TenantStatus.CANCELED])
def test_read_only_tenants_refuse_writes_with_402_but_allow_reads(alpha, status):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=status)
    client = bearer_client(alpha, "owner")
    assert client.get("/api/v1/data/").status_code == 200
    response = client.post("/api/v1/data/")
    assert response.status_code == 402
    assert error_of(response) == {
        "code": ErrorCode.TENANT_SUSPENDED,
        "message": Message.TENANT_SUSPENDED,
        "fields": {},
    }
    assert client.post("/api/v1/billing-like/").status_code == 201


def test_past_due_keeps_full_access(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=TenantStatus.PAST_DUE)
    assert bearer_client(alpha, "member").post("/api/v1/data/").status_code == 201


def test_session_user_who_is_not_a_member_gets_403(alpha):
    client = session_client(alpha, UserFactory())  # a session in alpha, no membership
    response = client.get("/api/v1/data/")
    assert response.status_code == 403
    assert error_of(response)["code"] == ErrorCode.NOT_A_MEMBER


def test_inactive_organisation_denies_everyone(alpha):
    org = alpha.tenant.organization
    org.is_active = False
    org.save(update_fields=["is_active"])
    assert bearer_client(alpha, "owner").get("/api/v1/data/").status_code == 401


def test_member_of_another_tenant_only(alpha, beta):
    stranger = UserFactory()
    MembershipFactory(organization=beta.tenant.organization, user=stranger, admin=True)
    client = session_client(alpha, stranger)
    assert client.get("/api/v1/data/").status_code == 403


def test_platform_session_from_the_public_host_is_anonymous_on_a_tenant(alpha):
    superuser = UserFactory(superuser=True)
    public = host_client("localhost")
    public.force_login(superuser)  # stored in the public schema's session table
    thief = host_client(alpha.host)
    thief.cookies["sessionid"] = public.cookies["sessionid"].value
    assert thief.get("/api/v1/data/").status_code == 401
