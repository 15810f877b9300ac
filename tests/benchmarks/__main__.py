"""`make bench`: SPEC §9 figures, each measured side by side with its baseline in one run.

Runs against a throw-away database (``tessera_bench``) on the embedded PostgreSQL (or
``DATABASE_URL``). Prints a table and writes JSON (``--json``, default
``bench-results.json``). Figures so far: sign-up provisioning (spare-schema pool vs
stock django-tenants schema creation) and SQL statements per tenant request (vs the
same endpoint with tenancy switched off, and vs stock django-tenants routing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _setup():
    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": "tessera_bench"}
    # Real password hashing (test settings use MD5 for speed): sign-up pays for it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    return setup_databases(verbosity=0, interactive=False)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def bench_provisioning(runs: int) -> list[dict]:
    from django.db import connection

    from tenants.models import SpareSchema, Tenant
    from tenants.provisioning import spare_schemas_replenish, tenant_provision
    from tenants.services import tenant_destroy

    def signup(n: int, label: str) -> float:
        started = time.perf_counter()
        tenant_provision(
            name=f"Bench {label} {n}",
            subdomain=f"bench-{label}-{n}",
            owner_email=f"owner{n}@{label}.bench",
            owner_password="bench-password-123",
        )
        return time.perf_counter() - started

    pooled, stock = [], []
    for n in range(runs):
        spare_schemas_replenish(target=1)  # outside the timing: the pool is refilled async
        pooled.append(signup(n, "pool"))
    # Baseline: the same sign-up with an empty pool, i.e. what stock django-tenants does on
    # the request path (auto_create_schema: CREATE SCHEMA, then migrate_schemas).
    for n in range(runs):
        for spare in SpareSchema.objects.all():
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{spare.schema_name}" CASCADE')
            spare.delete()
        stock.append(signup(n, "stock"))
    for tenant in Tenant.objects.filter(subdomain__startswith="bench-"):
        tenant_destroy(tenant=tenant)
    p, s = _summary(pooled), _summary(stock)
    return [
        {
            "figure": "sign-up to working tenant, p50 (s)",
            "value": p["p50"],
            "baseline": s["p50"],
            "baseline_name": "same sign-up, schema migrated on the request path (stock)",
            "ratio": s["p50"] / p["p50"],
            "target": "p50 <= 1 s",
            "spread": [p["min"], p["max"]],
            "n": p["n"],
        },
    ]


def bench_statements() -> list[dict]:
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from tenants.authentication import tenant_token_pair
    from tenants.provisioning import tenant_provision
    from tenants.services import tenant_destroy

    provisioned = tenant_provision(
        name="Stmt",
        subdomain="bench-stmt",
        owner_email="stmt@bench.test",
        owner_password="bench-password-123",
    )
    tenant, host = provisioned.tenant, provisioned.domain.domain
    token = tenant_token_pair(user=provisioned.user, tenant=tenant)["access"]

    class FixedTenant:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            request.tenant = tenant
            return self.get_response(request)

    sys.modules[__name__].FixedTenant = FixedTenant  # importable by dotted path

    def count(middleware: str | None) -> int:
        from django.conf import settings

        stack = list(settings.MIDDLEWARE)
        if middleware:
            stack = [
                middleware if m == "tenants.middleware.TenantRoutingMiddleware" else m
                for m in stack
            ]
        with override_settings(MIDDLEWARE=stack, ROOT_URLCONF="config.urls_tenant"):
            client = APIClient(HTTP_HOST=host)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            client.get("/api/v1/me/")
            with CaptureQueriesContext(connection) as queries:
                client.get("/api/v1/me/")
            return len(queries)

    tessera = count(None)
    tenant.domain_url = host
    connection.set_tenant(tenant)
    baseline = count(f"{__name__}.FixedTenant")
    stock = count("django_tenants.middleware.main.TenantMainMiddleware")
    connection.set_schema_to_public()
    tenant_destroy(tenant=tenant)
    return [
        {
            "figure": "SQL statements per tenant request beyond no-tenancy baseline",
            "value": tessera - baseline,
            "baseline": 0,
            "baseline_name": f"no tenancy ({baseline} stmts)",
            "ratio": None,
            "target": "<= 1",
            "stock_django_tenants": stock - baseline,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", default="bench-results.json")
    args = parser.parse_args(argv)
    old_config = _setup()
    from django.test.utils import teardown_databases

    try:
        rows = bench_statements() + bench_provisioning(args.runs)
    finally:
        teardown_databases(old_config, verbosity=0)
    print(f"{'figure':<62} {'tessera':>10} {'baseline':>10} {'ratio':>8}  target")
    for row in rows:
        ratio = f"{row['ratio']:.1f}x" if row["ratio"] else "-"
        value = f"{row['value']:.3f}" if isinstance(row["value"], float) else str(row["value"])
        base = (
            f"{row['baseline']:.3f}" if isinstance(row["baseline"], float) else str(row["baseline"])
        )
        print(f"{row['figure']:<62} {value:>10} {base:>10} {ratio:>8}  {row['target']}")
        print(f"{'':<62} baseline: {row['baseline_name']}")
        if "stock_django_tenants" in row:
            print(f"{'':<62} stock django-tenants: +{row['stock_django_tenants']} statements")
    with open(args.json, "w") as handle:
        json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
