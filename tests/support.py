"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rest_framework.test import APIClient

from shared_apps.accounts.models import User
from tenants.authentication import tenant_token_pair
from tenants.models import Tenant


@dataclass(frozen=True)
class TenantWorld:
    """Handles to one session tenant; refetch the rows inside the test transaction."""

    subdomain: str
    host: str
    schema_name: str

    @property
    def tenant(self) -> Tenant:
        return Tenant.objects.select_related("plan", "organization").get(
            schema_name=self.schema_name
        )

    def user(self, role: str) -> User:
        return User.objects.get(email=f"{role}@{self.subdomain}.test")


def session_world(subdomain: str) -> TenantWorld:
    """One of the session tenants (conftest's ``alpha`` / ``beta``, without ``db``)."""
    return TenantWorld(
        subdomain=subdomain, host=f"{subdomain}.localhost", schema_name=f"t_{subdomain}"
    )


def host_client(host: str) -> APIClient:
    return APIClient(HTTP_HOST=host)


def bearer_client(world: TenantWorld, role: str = "owner", *, host: str | None = None) -> APIClient:
    """A client on ``host`` (default: the world's own) holding a token issued by ``world``."""
    pair = tenant_token_pair(user=world.user(role), tenant=world.tenant)
    client = host_client(host or world.host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return client


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def assert_not_a_crash(response, *, deliberate_5xx: tuple[int, ...] = ()) -> None:
    """Never a 500. A status in ``deliberate_5xx`` (an upstream such as Stripe
    unavailable or not configured) is accepted only as a SPEC §4 error whose code is not
    ``server_error``; any other 5xx fails."""
    from shared_apps.core.errors import ErrorCode

    if response.status_code < 500:
        return
    assert response.status_code in deliberate_5xx, (
        response.status_code,
        response.content[:500],
    )
    assert error_of(response)["code"] != ErrorCode.SERVER_ERROR, response.content[:500]


def session_client(world: TenantWorld, user: User) -> APIClient:
    """A client on the world's host with a session stored in that tenant's schema."""
    from django.db import connection

    client = host_client(world.host)
    connection.set_tenant(world.tenant)
    try:
        client.force_login(user)
    finally:
        connection.set_schema_to_public()
    return client


@contextmanager
def live_server() -> Iterator[int]:
    """A live server (Django's test thread, static files served) on its own database
    connection, so it sees only committed data; yields its port."""
    from django.test.testcases import LiveServerThread, _StaticFilesHandler

    thread = LiveServerThread("localhost", _StaticFilesHandler, connections_override=None, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield thread.port
    finally:
        thread.terminate()


@contextmanager
def seeded_products(django_db_blocker, schemas: dict[str, str], *, mark: str, count: int):
    """``count`` committed products in each tenant of ``schemas`` (subdomain → schema),
    named ``<subdomain>-<mark>-NN``, for tests whose other processes read them; on exit,
    every product named after any of these tenants is deleted from all their schemas
    (the seeded ones and those the test wrote), with the audit entries written since."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from tenant_apps.audit.models import AuditEntry
    from tenant_apps.catalog.models import Product

    audited_before: dict[str, int] = {}
    with django_db_blocker.unblock():
        for subdomain, schema in schemas.items():
            with schema_context(schema):
                audited_before[schema] = (
                    AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
                )
                Product.objects.bulk_create(
                    Product(
                        name=f"{subdomain}-{mark}-{n:02d}",
                        slug=f"{subdomain}-{mark}-{n:02d}",
                        price=1,
                    )
                    for n in range(count)
                )
        connection.set_schema_to_public()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            for schema in schemas.values():
                with schema_context(schema):
                    for subdomain in schemas:
                        Product.objects.filter(name__startswith=f"{subdomain}-").delete()
                    # The audit entries of the products the test wrote through the API.
                    AuditEntry.objects.filter(id__gt=audited_before[schema]).delete()
            connection.set_schema_to_public()
