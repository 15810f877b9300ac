"""Host name → tenant resolution: unknown hosts, caching, invalidation, statement counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from shared_apps.core.errors import ErrorCode
from tenants.models import Domain, Tenant, TenantStatus
from tenants.resolution import TenantResolver, normalise_host, resolver
from tests.factories import DomainFactory, TenantFactory
from tests.support import bearer_client, error_of, host_client


@pytest.mark.parametrize(
    "host",
    ["nope.localhost", "alpha.localhost.evil.test", "localhost.evil.test", "10.0.0.1", "alpha"],
)
def test_unknown_hosts_get_json_404_under_api(db, host):
    response = host_client(host).get("/api/v1/me/")
    assert response.status_code == 404
    assert error_of(response)["code"] == ErrorCode.UNKNOWN_HOST


@pytest.mark.parametrize(
    "host", ["bad_host!!", "-alpha.localhost", "alpha..localhost", "[::1]", "a" * 300, "al pha", ""]
)
def test_malformed_hosts_get_404_never_500(db, host):
    api = host_client(host).get("/api/v1/me/")
    assert api.status_code == 404
    assert error_of(api)["code"] == ErrorCode.UNKNOWN_HOST
    page = host_client(host).get("/signup/")
    assert page.status_code == 404
    assert b"No tenant" in page.content
    assert b"Create your organisation" not in page.content  # never the public site


def test_unknown_host_html_is_not_the_public_site(db):
    response = host_client("nope.localhost").get("/signup/")
    assert response.status_code == 404
    assert b"Create your organisation" not in response.content


def test_public_host_and_www_serve_the_public_site(db):
    for host in ("localhost", "www.localhost", "LOCALHOST:8000"):
        assert host_client(host).get("/signup/").status_code == 200


def test_host_is_case_insensitive_and_port_is_ignored(alpha):
    response = bearer_client(alpha, host="ALPHA.localhost:8000").get("/api/v1/me/")
    assert response.status_code == 200


def test_custom_domain_routes_to_its_tenant(alpha):
    Domain.objects.create(domain="orders.alpha-shop.test", tenant=alpha.tenant, is_primary=False)
    response = bearer_client(alpha, host="orders.alpha-shop.test").get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["tenant"]["subdomain"] == "alpha"


def test_moving_a_domain_takes_effect_on_the_next_request(alpha, beta):
    Domain.objects.create(domain="shop.example.test", tenant=alpha.tenant, is_primary=False)
    assert bearer_client(alpha, host="shop.example.test").get("/api/v1/me/").status_code == 200
    # Moved with a queryset update: no model signal fires, the trigger still does.
    Domain.objects.filter(domain="shop.example.test").update(tenant=beta.tenant)
    assert bearer_client(alpha, host="shop.example.test").get("/api/v1/me/").status_code == 401
    moved = bearer_client(beta, host="shop.example.test").get("/api/v1/me/")
    assert moved.status_code == 200
    assert moved.json()["tenant"]["subdomain"] == "beta"


def test_deleted_domain_stops_routing(alpha):
    Domain.objects.create(domain="old.example.test", tenant=alpha.tenant, is_primary=False)
    assert bearer_client(alpha, host="old.example.test").get("/api/v1/me/").status_code == 200
    Domain.objects.filter(domain="old.example.test").delete()
    assert host_client("old.example.test").get("/api/v1/me/").status_code == 404


def test_suspension_is_seen_by_the_next_request(alpha):
    client = bearer_client(alpha)
    assert client.get("/api/v1/me/").json()["tenant"]["status"] == "trialing"
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status=TenantStatus.SUSPENDED)
    body = client.get("/api/v1/me/").json()
    assert body["tenant"]["status"] == "suspended"
    assert body["tenant"]["read_only"] is True


def test_change_committed_by_another_connection_invalidates_this_process(alpha, django_db_blocker):
    """A second connection (another worker) changes the tenant: this process must notice."""
    client = bearer_client(alpha)
    client.get("/api/v1/me/")
    generation_before = _generation()
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("UPDATE tenants_tenant SET name = name WHERE schema_name = 't_beta'")
        other.commit() if not other.get_autocommit() else None
    finally:
        other.close()
    assert _generation() != generation_before


def _generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT generation FROM tenants_routinggeneration WHERE id = 1")
        return cursor.fetchone()[0]


def test_cache_is_bounded(db):
    small = TenantResolver(maxsize=3)
    for _ in range(6):
        tenant = TenantFactory()
        DomainFactory(tenant=tenant)
        assert small.route(f"{tenant.subdomain}.localhost").tenant == tenant
        connection.set_schema_to_public()
    assert len(small) == 3


def test_rolled_back_change_is_not_served_later(alpha):
    """No ABA: a generation handed out inside a rolled-back transaction is never reused."""
    from django.db import transaction

    client = bearer_client(alpha)
    client.get("/api/v1/me/")

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        Tenant.objects.filter(pk=alpha.tenant.pk).update(status=TenantStatus.SUSPENDED)
        assert client.get("/api/v1/me/").json()["tenant"]["status"] == "suspended"
        raise Rollback
    Tenant.objects.filter(schema_name="t_beta").update(name="Beta renamed")
    assert client.get("/api/v1/me/").json()["tenant"]["status"] == "trialing"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme.Localhost:8000", "acme.localhost"),
        ("acme.localhost.", "acme.localhost"),
        ("acme.localhost", "acme.localhost"),
        ("[::1]:8000", None),
        ("acme_x.localhost", None),
        ("", None),
    ],
)
def test_normalise_host(raw, expected):
    assert normalise_host(raw) == expected


# Statement counts ------------------------------------------------------------------------


class FixedTenantMiddleware:
    """Tenancy switched off: the request is handed a tenant with no lookup and no SET."""

    tenant = None

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = FixedTenantMiddleware.tenant
        request.is_public_host = False
        return self.get_response(request)


def _statements(world, path="/api/v1/me/") -> int:
    client = bearer_client(world)  # a new client loads the middleware now in settings
    client.get(path)  # warm caches (resolution, content types, ...)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def _middleware_with(replacement: str) -> list[str]:
    from django.conf import settings

    return [
        replacement if m == "tenants.middleware.TenantRoutingMiddleware" else m
        for m in settings.MIDDLEWARE
    ]


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/members/"])
def test_tenant_request_costs_at_most_one_statement_more_than_no_tenancy(alpha, path):
    with_tenancy = _statements(alpha, path)

    tenant = Tenant.objects.select_related("plan").get(pk=alpha.tenant.pk)
    tenant.domain_url = alpha.host
    FixedTenantMiddleware.tenant = tenant
    connection.set_tenant(tenant)
    with override_settings(
        MIDDLEWARE=_middleware_with(f"{__name__}.FixedTenantMiddleware"),
        ROOT_URLCONF="config.urls_tenant",
    ):
        without_tenancy = _statements(alpha, path)

    with override_settings(
        MIDDLEWARE=_middleware_with("django_tenants.middleware.main.TenantMainMiddleware"),
        ROOT_URLCONF="config.urls_tenant",
    ):
        stock = _statements(alpha, path)

    assert with_tenancy - without_tenancy == 1
    assert stock - without_tenancy >= 2  # what stock django-tenants costs, for contrast


def test_cached_request_issues_one_routing_statement(alpha):
    client = bearer_client(alpha)
    client.get("/api/v1/me/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/me/")
    routing = [q["sql"] for q in queries if "set_config('search_path'" in q["sql"]]
    assert len(routing) == 1
    assert not any(q["sql"].startswith("SET search_path") for q in queries)
    assert not any("tenants_domain" in q["sql"] for q in queries)


def test_resolver_singleton_is_used_by_the_middleware(alpha):
    resolver.clear()
    assert len(resolver) == 0
    assert bearer_client(alpha).get("/api/v1/me/").status_code == 200
    assert len(resolver) == 1  # alpha's host, cached by the middleware's resolver


def test_unknown_host_is_remembered_until_a_domain_is_added(alpha):
    client = host_client("late.example.test")
    assert client.get("/api/v1/me/").status_code == 404
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me/").status_code == 404
    assert len(queries) == 1  # the routing statement only: no lookup for a known-unknown host
    Domain.objects.create(domain="late.example.test", tenant=alpha.tenant, is_primary=False)
    assert bearer_client(alpha, host="late.example.test").get("/api/v1/me/").status_code == 200


def test_flood_of_unknown_hosts_does_not_evict_tenants(alpha):
    small = TenantResolver(maxsize=2, unknown_maxsize=2)
    assert small.route(alpha.host).tenant.schema_name == alpha.schema_name
    for n in range(10):
        assert not small.route(f"random{n}.example.test").found
    assert len(small) == 1
    connection.set_schema_to_public()


def test_plan_change_is_seen_by_the_next_request(alpha):
    from billing.models import Plan

    client = bearer_client(alpha)
    assert client.get("/api/v1/me/").json()["tenant"]["plan"] == "starter"
    Plan.objects.filter(code="starter").update(code="starter-2025")
    assert client.get("/api/v1/me/").json()["tenant"]["plan"] == "starter-2025"


def _backend_pid(db_connection) -> int:
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # waits for the exit
    finally:
        other.close()


def test_the_routing_statement_is_the_health_check_of_a_kept_connection(db, monkeypatch):
    """At the start of a request on a kept connection, the routing statement replaces
    Django's health-check ``SELECT 1``: no round trip before it, and a connection that
    died between requests is replaced instead of failing the request."""
    from django.db import connections

    # A connection of its own, outside the test's transaction, as a web worker's is.
    db = connections.create_connection("default")
    public = resolver._public
    db.route_to(public)
    assert db.health_check_enabled  # CONN_HEALTH_CHECKS, read when it connected
    pid = _backend_pid(db)

    health_checks: list[bool] = []
    real_is_usable = db.is_usable
    monkeypatch.setattr(db, "is_usable", lambda: health_checks.append(True) or real_is_usable())
    db.close_if_unusable_or_obsolete()  # what request_started does
    sent: list[str] = []
    with db.execute_wrapper(lambda execute, sql, *args: sent.append(sql) or execute(sql, *args)):
        db.route_to(public)
    assert health_checks == []  # Django's SELECT 1 was not sent
    assert len(sent) == 1 and "set_config('search_path'" in sent[0]
    assert _backend_pid(db) == pid

    _terminate(pid)
    db.close_if_unusable_or_obsolete()
    db.route_to(public)  # reconnects instead of raising
    assert _backend_pid(db) != pid

    # Inside a request (health check done), a dead connection is an error, as in Django.
    _terminate(_backend_pid(db))
    from django.db import OperationalError

    with pytest.raises(OperationalError):
        db.route_to(public)
    db.close()
