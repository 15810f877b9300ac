"""The no-tenancy baseline of ``make bench``: every request gets one preloaded tenant.

``tests.benchmarks.settings.notenancy`` puts ``PreloadedTenantMiddleware`` where
``tenants.middleware.TenantRoutingMiddleware`` sits. It looks the tenant up once per
process (``BENCH_TENANT_SCHEMA``, with its plan, as the resolver caches it) and points
each thread's connection at that schema once; after that a request costs no host lookup
and no SQL for routing: the baseline's backend (``tests.benchmarks.notenancy_backend``)
has the search_path fixed for the session when it connects. What remains is the same
application a tenant request runs, so the difference between the two servers is the cost
of tenancy: host resolution, cache validation and the per-request schema switch.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from django.db import connection

_lock = threading.Lock()


class PreloadedTenantMiddleware:
    tenant = None  # class-wide: loaded once per process (or set by the in-process bench)

    def __init__(self, get_response):
        self.get_response = get_response

    @classmethod
    def _tenant(cls):
        if cls.tenant is None:
            with _lock:
                if cls.tenant is None:
                    from tenants.models import Tenant

                    schema = os.environ["BENCH_TENANT_SCHEMA"]
                    tenant = Tenant.objects.select_related("plan").get(schema_name=schema)
                    tenant.domain_url = tenant.domains.get(is_primary=True).domain
                    cls.tenant = tenant
        return cls.tenant

    def __call__(self, request):
        tenant = self._tenant()
        if connection.schema_name != tenant.schema_name:  # once per thread's connection
            connection.set_tenant(tenant)
        request.tenant = tenant
        request.is_public_host = False
        return self.get_response(request)


@contextlib.contextmanager
def routing_switched_off(schema: str) -> Iterator[None]:
    """In process (the statement count): this connection as the baseline server's is --
    the search_path set once for the session, and nothing routed per transaction."""
    from django_tenants.utils import quote_schema_name

    connection.ensure_connection()
    router = connection._route_every_transaction  # type: ignore[attr-defined]
    connection.execute_wrappers.remove(router)
    with connection.connection.cursor() as cursor:
        cursor.execute(f"SET search_path = {quote_schema_name(schema)}, public")
    try:
        yield
    finally:
        with connection.connection.cursor() as cursor:
            cursor.execute("RESET search_path")
        connection.execute_wrappers.insert(0, router)
