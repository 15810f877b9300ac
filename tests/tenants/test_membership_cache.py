"""The per-process membership cache: hits cost no SQL, and every change is seen at once.

Removal, a role change, deactivation and a new password are refused or applied on the
very next request, in this process (the change's own trigger bumps the routing
generation) and in any other (the generation is in the database: a change committed by
another process moves it too). Entries are per tenant: one user's two memberships never
answer for each other.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shared_apps.accounts.models import User
from shared_apps.core.errors import ErrorCode
from shared_apps.organizations.models import OrganizationUser
from shared_apps.organizations.roles import Role
from tenants.authentication import tenant_token_pair
from tenants.membership_cache import MembershipCache, memberships
from tests.factories import MembershipFactory, UserFactory
from tests.support import error_of, host_client, session_world


def _client(world, user):
    client = host_client(world.host)
    pair = tenant_token_pair(user=user, tenant=world.tenant)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return client


def _member(world, role=Role.MEMBER) -> User:
    user = UserFactory()
    MembershipFactory(organization=world.tenant.organization, user=user, role=role)
    return user


def _membership_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "organizations_organizationuser" in q["sql"]]


def test_a_cached_membership_costs_no_query(alpha):
    client = _client(alpha, _member(alpha))
    assert client.get("/api/v1/products/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/products/").status_code == 200
    assert _membership_queries(queries) == []


def test_a_removed_member_is_refused_at_once(alpha):
    user = _member(alpha)
    client = _client(alpha, user)
    assert client.get("/api/v1/products/").status_code == 200
    OrganizationUser.objects.filter(user=user).delete()
    response = client.get("/api/v1/products/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.NOT_A_MEMBER


def test_a_role_change_applies_to_the_next_request(alpha):
    user = _member(alpha, Role.MEMBER)
    client = _client(alpha, user)
    body = {"name": "Cached role", "price": "1.00"}
    assert client.post("/api/v1/products/", body, format="json").status_code == 201
    OrganizationUser.objects.filter(user=user).update(role=Role.VIEWER)
    response = client.post("/api/v1/products/", {**body, "name": "Again"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == ErrorCode.PERMISSION_DENIED
    assert client.get("/api/v1/products/").status_code == 200  # a viewer still reads


def test_a_deactivated_user_is_refused_at_once(alpha):
    user = _member(alpha)
    client = _client(alpha, user)
    assert client.get("/api/v1/products/").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/api/v1/products/").status_code == 401


def test_a_new_password_ends_the_old_token_at_once(alpha):
    user = _member(alpha)
    client = _client(alpha, user)
    assert client.get("/api/v1/products/").status_code == 200
    user.set_password("a-new-password-7Hq")
    user.save(update_fields=["password"])
    response = client.get("/api/v1/products/")
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.TOKEN_NOT_VALID


def test_a_login_does_not_move_the_generation(alpha):
    """``last_login`` is written at every login: it must not empty every cache."""
    from django.utils import timezone

    user = _member(alpha)
    before = _generation()
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    assert _generation() == before
    User.objects.filter(pk=user.pk).update(full_name="Renamed")
    assert _generation() != before


def test_one_user_in_two_tenants_gets_each_tenants_role(alpha, beta):
    user = _member(alpha, Role.MEMBER)
    MembershipFactory(organization=beta.tenant.organization, user=user, role=Role.VIEWER)
    in_alpha, in_beta = _client(alpha, user), _client(beta, user)
    for _ in range(2):  # the second round is served from the cache
        assert in_alpha.get("/api/v1/me/").json()["role"] == Role.MEMBER
        assert in_beta.get("/api/v1/me/").json()["role"] == Role.VIEWER
    body = {"name": "Only in alpha", "price": "1.00"}
    assert in_alpha.post("/api/v1/products/", body, format="json").status_code == 201
    assert in_beta.post("/api/v1/products/", body, format="json").status_code == 403


def test_a_view_changing_the_user_does_not_change_the_cached_one(alpha):
    user = _member(alpha)
    client = _client(alpha, user)
    assert client.get("/api/v1/me/").status_code == 200
    tenant = alpha.tenant
    connection.set_tenant(tenant)
    connection.route_to(tenant)  # as the request's routing statement does
    first = memberships.membership(user_id=user.pk, tenant=tenant)
    assert first is not None
    first.user.full_name = "Changed in one request only"
    again = memberships.membership(user_id=user.pk, tenant=tenant)
    assert again is not None and again.user.full_name != "Changed in one request only"
    connection.set_schema_to_public()


def test_outside_a_routed_transaction_nothing_is_cached(alpha):
    cache = MembershipCache(maxsize=10)
    connection.routing_generation = None  # e.g. a command, or a task
    user = alpha.user("owner")
    with CaptureQueriesContext(connection) as queries:
        assert cache.membership(user_id=user.pk, tenant=alpha.tenant) is not None
    assert _membership_queries(queries)
    assert len(cache) == 0


def test_the_cache_is_bounded(alpha):
    cache = MembershipCache(maxsize=2)
    tenant = alpha.tenant
    connection.route_to(tenant)
    for role in ("owner", "admin", "member", "viewer"):
        assert cache.membership(user_id=alpha.user(role).pk, tenant=tenant) is not None
    assert len(cache) == 2
    connection.set_schema_to_public()


def _generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT generation FROM public.tenants_routinggeneration WHERE id = 1")
        return cursor.fetchone()[0]


# Across processes: committed data, the removal made by another process. ----------------


@pytest.mark.usefixtures("committed_db")
def test_a_member_removed_by_another_process_is_refused_here_at_once():
    world = session_world("alpha")
    user = User.objects.create_user(email="cache-removed@alpha.test", password="x-Pass-9")
    try:
        OrganizationUser.objects.create(
            organization=world.tenant.organization, user=user, role=Role.MEMBER
        )
        client = _client(world, user)
        assert client.get("/api/v1/products/").status_code == 200
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/products/").status_code == 200
        assert _membership_queries(queries) == []  # served from this process's cache
        # Another process (not this one's cache, nor its connection) removes the member.
        settings = connection.settings_dict
        script = (
            "import psycopg, sys\n"
            "with psycopg.connect(sys.argv[1]) as db:\n"
            "    db.execute('DELETE FROM organizations_organizationuser WHERE user_id = %s',"
            " [int(sys.argv[2])])\n"
        )
        dsn = (
            f"dbname={settings['NAME']} user={settings['USER']} host={settings['HOST']}"
            + (f" port={settings['PORT']}" if settings.get("PORT") else "")
            + (f" password={settings['PASSWORD']}" if settings.get("PASSWORD") else "")
        )
        subprocess.run([sys.executable, "-c", script, dsn, str(user.pk)], check=True)
        response = client.get("/api/v1/products/")
        assert response.status_code == 401
        assert error_of(response)["code"] == ErrorCode.NOT_A_MEMBER
    finally:
        OrganizationUser.objects.filter(user=user).delete()
        user.delete()
