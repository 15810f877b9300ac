"""`make bench`: every SPEC §9 figure, each next to its baseline, measured in one run.

Runs against a throw-away database (``tessera_bench``) on the embedded PostgreSQL (or
``DATABASE_URL``), repeats each measurement (``--runs``), and prints one table with the
median, the spread (min-max) and the ratio to the baseline of every figure; the same goes
to ``bench-results.json`` (``--json``). ``docs/performance.md`` explains each figure.

Sizes: the default run takes a few minutes on 2 cores (fan-out over 100 tenants,
no-op migrations over 300, scale figures at 10 vs 1,000 tenants). ``--full``
(``make bench BENCH_ARGS=--full``) runs the SPEC sizes: fan-out and migrations over
1,000 tenants, scale figures at 10 vs 10,000, and longer HTTP runs.

Figures, in the order they are measured:

e. Celery fan-out vs the same tasks without tenant switching, and one connection's
   memory with and without recycling (``tests/benchmarks/celery_bench.py``). First: a
   fan-out reaches every live tenant, so no other tenant may exist yet.
b. SQL statements per tenant request beyond the same request with tenancy switched off.
g. (first half) routing time and sign-up at 10 tenants.
h. outgoing webhooks: an order write with 3 subscribed endpoints vs none, and deliveries
   per second to a local receiver (``tests/benchmarks/webhooks.py``).
a, f. requests/s and latency of tenant list endpoints under ``wrk`` against gunicorn,
   vs the same endpoints with tenancy switched off (``tests/benchmarks/web.py``).
c. sign-up p50, pool vs stock, with 0 and 50 extra no-op tenant migrations
   (``tests/benchmarks/provisioning.py``).
d. no-op ``migrate_tenants`` vs stock ``migrate_schemas --executor=multiprocessing``
   (``tests/benchmarks/migrating.py``).
g. (second half) routing time and sign-up at 1,000 (``--full``: 10,000) tenants.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # the in-process parts; servers log as deployed

DATABASE = "tessera_bench"
SIZES = {
    "default": {"celery": 100, "migrate": 300, "scale": 1_000, "duration": 4.0},
    "full": {"celery": 1_000, "migrate": 1_000, "scale": 10_000, "duration": 10.0},
}
SMALL = 10  # tenants of the small side of the scale figures
ENDPOINTS = ("products", "orders", "customers")
PASSWORD = "Zq7!vX9#mK2$wL5^"  # the same as tests/benchmarks/provisioning.py
PAGE = "?page_size=20"
CEILING_PATH = "/ceiling/products/"  # tests/benchmarks/ceiling.py
P99_TARGET_MS = 50.0  # SPEC §9


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _cpu_busy(interval: float = 1.0) -> float:
    """Share of all CPUs busy over ``interval`` seconds (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(interval)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


SETTLED: dict[str, float] = {}


def settle(phase: str, *, below: float = 0.3, timeout: float = 45.0) -> None:
    """Before a timed phase: wait (up to ``timeout``) until the CPUs are mostly idle, so
    that autovacuum after the previous phase's DDL, or a process still shutting down,
    does not land in this one. Records what it saw."""
    deadline = time.monotonic() + timeout
    busy = _cpu_busy()
    while busy >= below and time.monotonic() < deadline:
        busy = _cpu_busy()
    SETTLED[phase] = round(busy, 2)
    if busy >= below:
        log(f"{phase}: CPUs still {busy:.0%} busy after {timeout:.0f} s; measuring anyway")


FAILED_SECTIONS: list[str] = []


def section(name: str, run: Callable[[], Any]) -> Any:
    """Run one part of the benchmark; if it fails, say so in the table and go on (the
    run still exits non-zero)."""
    from django.db import connection

    try:
        return run()
    except Exception as exc:
        traceback.print_exc()
        FAILED_SECTIONS.append(name)
        connection.close()  # whatever state the failure left it in
        return [
            figure(
                f"{name}: not measured",
                None,
                None,
                baseline_name=f"failed: {exc!r}"[:300],
                ratio=None,
                target="-",
                meets=False,
            )
        ]


def _setup():
    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": DATABASE}
    # The deployed password hashing (test settings use MD5 for speed): sign-up pays for it.
    from config.settings.base import PASSWORD_HASHERS

    settings.PASSWORD_HASHERS = PASSWORD_HASHERS
    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    return setup_databases(verbosity=0, interactive=False)


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
        "samples": samples,
    }


def figure(
    name: str,
    value: float | int | None,
    baseline: float | int | None,
    *,
    baseline_name: str,
    ratio: float | None,
    target: str,
    meets: bool | None,
    spread: dict | None = None,
    **extra,
) -> dict:
    return {
        "figure": name,
        "value": value,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "ratio": ratio,
        "target": target,
        "meets": meets,
        "spread": spread,
        **extra,
    }


def _spread(ours: dict, theirs: dict | None = None) -> dict:
    spread = {"value": [ours["min"], ours["max"]], "n": ours["n"]}
    if theirs is not None:
        spread["baseline"] = [theirs["min"], theirs["max"]]
    return spread


# e. Celery ---------------------------------------------------------------------------------


def bench_celery(tenants: int) -> list[dict]:
    try:
        from tests.benchmarks import celery_bench

        measured = celery_bench.run(tenants)
    except Exception as exc:  # report it in the table and carry on with the other figures
        traceback.print_exc()
        FAILED_SECTIONS.append("celery")
        return [
            figure(
                f"Celery fan-out over {tenants} tenants (tasks/s)",
                None,
                None,
                baseline_name=f"not measured: celery_bench.run failed: {exc!r}"[:300],
                ratio=None,
                target=">= 0.80",
                meets=False,
            )
        ]
    return [_celery_row(row) for row in measured]


def _celery_row(row: dict) -> dict:
    """celery_bench's row in this table's terms: the median of its rounds (it reports the
    best round; kept as ``best``), their spread, and whether a ``>= x`` target is met."""
    row = dict(row)
    rounds = row.get("rounds") or {}
    ours, theirs = rounds.get("fanout"), rounds.get("baseline")
    if ours and theirs:
        row["best"] = {"value": row["value"], "baseline": row["baseline"]}
        row["value"], row["baseline"] = statistics.median(ours), statistics.median(theirs)
        row["ratio"] = row["value"] / row["baseline"]
        row["spread"] = {
            "value": [min(ours), max(ours)],
            "baseline": [min(theirs), max(theirs)],
            "n": len(ours),
        }
        row["baseline_name"] = f"{row['baseline_name']} (best rounds {row['best']['value']:.0f}"
        row["baseline_name"] += f" vs {row['best']['baseline']:.0f})"
    target = str(row.get("target", ""))
    meets = None
    if target.startswith(">=") and row.get("ratio") is not None:
        try:
            meets = row["ratio"] >= float(target[2:].split()[0])
        except ValueError:
            meets = None
    row["meets"] = meets
    row.setdefault("spread", None)
    return row


# b. Statements per request -------------------------------------------------------------------


def bench_statements() -> list[dict]:
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from tenants.authentication import tenant_token_pair
    from tenants.provisioning import tenant_provision
    from tenants.services import tenant_destroy
    from tests.benchmarks.notenancy import PreloadedTenantMiddleware, routing_switched_off
    from tests.benchmarks.schemas import create_spare

    create_spare()
    provisioned = tenant_provision(
        name="Stmt",
        subdomain="bench-stmt",
        owner_email="stmt@bench.test",
        owner_password=PASSWORD,
        plan_code="pro",
    )
    tenant, host = provisioned.tenant, provisioned.domain.domain
    token = tenant_token_pair(user=provisioned.user, tenant=tenant)["access"]
    tenant.domain_url = host
    PreloadedTenantMiddleware.tenant = tenant

    # Django logs the transaction's BEGIN and COMMIT as entries of their own. Tessera's
    # BEGIN travels with the routing statement (no round trip of its own, ADR 0014); the
    # COMMIT is one round trip more than the baseline's autocommit statements: reported.
    control = {"BEGIN", "COMMIT", "ROLLBACK"}

    def count(path: str, middleware: str | None, *, off: bool = False) -> tuple[int, int]:
        stack = list(settings.MIDDLEWARE)
        if middleware:
            stack = [
                middleware if m == "tenants.middleware.TenantRoutingMiddleware" else m
                for m in stack
            ]
        switched = routing_switched_off(tenant.schema_name) if off else contextlib.nullcontext()
        with override_settings(MIDDLEWARE=stack, ROOT_URLCONF="config.urls_tenant"), switched:
            client = APIClient(HTTP_HOST=host)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            assert client.get(path).status_code == 200
            with CaptureQueriesContext(connection) as queries:
                assert client.get(path).status_code == 200
        statements = [q["sql"] for q in queries if q["sql"] not in control]
        return len(statements), sum(q["sql"] == "COMMIT" for q in queries)

    counts = {}
    commits = {}
    try:
        for path in ("/api/v1/me/", f"/api/v1/products/{PAGE}"):
            connection.set_schema_to_public()
            ours, commits[path] = count(path, None)
            counts[path] = {
                "tessera": ours,
                "baseline": count(
                    path, "tests.benchmarks.notenancy.PreloadedTenantMiddleware", off=True
                )[0],
                "stock": count(path, "django_tenants.middleware.main.TenantMainMiddleware")[0],
            }
    finally:
        PreloadedTenantMiddleware.tenant = None
        connection.set_schema_to_public()
        tenant_destroy(tenant=tenant)
    extra = max(c["tessera"] - c["baseline"] for c in counts.values())
    stock = max(c["stock"] - c["baseline"] for c in counts.values())
    return [
        figure(
            "SQL statements per tenant request beyond no tenancy",
            extra,
            0,
            baseline_name="same requests, tenancy switched off: "
            + ", ".join(f"{p} {c['baseline']}" for p, c in counts.items())
            + f"; stock django-tenants +{stock}; plus {max(commits.values())} COMMIT round trip"
            " (each request is one transaction, pooler-safe)",
            ratio=None,
            target="<= 1",
            meets=extra <= 1,
            per_path=counts,
        )
    ]


# g. Scale: routing and sign-up at a given number of tenants ----------------------------------


def routing_times(hosts: list[str], *, runs: int, calls: int = 2_000) -> dict:
    """Per-request routing (``resolver.route``) over ``hosts`` picked at random, all
    cached (steady state); plus the first sight of a host (cache miss)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenants.resolution import resolver

    rng = random.Random(7)
    resolver.clear()
    misses = []
    for host in hosts:
        started = time.perf_counter()
        resolver.route(host)
        misses.append(time.perf_counter() - started)
    medians = []
    for _ in range(runs):
        order = [rng.choice(hosts) for _ in range(calls)]
        seconds = []
        for host in order:
            started = time.perf_counter()
            resolver.route(host)
            seconds.append(time.perf_counter() - started)
        medians.append(statistics.median(seconds) * 1e6)
    with CaptureQueriesContext(connection) as queries:
        for host in hosts[:100]:
            resolver.route(host)
    connection.set_schema_to_public()
    return {
        "hit_us": summary(medians),
        "miss_us": statistics.median(misses) * 1e6,
        "statements_per_hit": len(queries) / min(100, len(hosts)),
        "cached_hosts": len(resolver),
    }


def checkpoint() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


# The catalogs a schema's creation fills (and the shared tables a sign-up reads).
_SETTLED_TABLES = (
    *(
        f"pg_catalog.{name}"
        for name in (
            "pg_class",
            "pg_attribute",
            "pg_namespace",
            "pg_depend",
            "pg_type",
            "pg_constraint",
            "pg_index",
            "pg_attrdef",
            "pg_sequence",
        )
    ),
    "public.tenants_tenant",
    "public.tenants_domain",
)


def vacuum_catalogs() -> None:
    """``VACUUM (ANALYZE)`` the catalogs and tenant tables, as autovacuum will have done
    by the time a deployment has grown to that many tenants: the bench creates them a
    minute before timing, after earlier sections created and dropped hundreds of
    schemas, and the dead catalog rows and stale statistics would otherwise be timed as
    what more tenants cost."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) " + ", ".join(_SETTLED_TABLES))


def control_seconds() -> float:
    """A fixed piece of work that does not depend on the number of tenants: 200
    ``SELECT 1`` round trips and a Python loop. Timed next to the scale figures, it shows
    how fast the machine was at each size (the two sizes run minutes apart)."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    total = 0
    for i in range(300_000):
        total += i
    return time.perf_counter() - started


def scale_point(count: int, *, runs: int, database: str) -> dict:
    from tests.benchmarks import migrating
    from tests.benchmarks.provisioning import signup_times
    from tests.benchmarks.schemas import bench_hosts, grow_tenants

    log(f"scale: {count} tenants (creating schemas)")
    grow_tenants(count, progress=False)
    # Creating hundreds of schemas just now left their WAL and dirty buffers to a
    # checkpoint, which would then run (spread over minutes) under the timed sign-ups of
    # the larger size only. One CHECKPOINT here, at every size, starts each size's timing
    # from the same state: the bench's own set-up is not what "more tenants" costs. The
    # catalogs are vacuumed first, at every size, for the same reason.
    vacuum_catalogs()
    checkpoint()
    settle(f"scale-{count}")
    control = [control_seconds() for _ in range(5)]
    # Microseconds each: many short runs, so that a burst of other work skews few.
    routing = routing_times(bench_hosts(count), runs=max(runs, 15))
    control += [control_seconds() for _ in range(5)]
    signups = max(runs, 9)  # a sign-up is CPU-bound (PBKDF2): more samples, steadier p50
    log(f"scale: sign-up x{signups} at {count} tenants")
    settle(f"scale-{count}-signup")
    signup = summary(signup_times(signups, pooled=True, label=f"at{count}"))
    control += [control_seconds() for _ in range(5)]
    # One no-op migrate_tenants here too: its status scan must stay cheap at any size.
    return {
        "tenants": count,
        "routing": routing,
        "signup": signup,
        "control_ms": summary([c * 1000 for c in control]),
        "migrate_tenants_s": migrating.fast(database),
    }


def scale_rows(small: dict, large: dict) -> list[dict]:
    n, m = small["tenants"], large["tenants"]
    # The two sizes run minutes apart, and a VM's speed drifts: the same fixed work
    # (control_seconds), timed at both sizes, shows how much. Information only: it is too
    # unlike each figure's own work to correct the ratios by.
    drift = large["control_ms"]["median"] / small["control_ms"]["median"]
    speed = (
        f"fixed control work {large['control_ms']['median']:.1f} vs "
        f"{small['control_ms']['median']:.1f} ms ({drift:.2f}x)"
    )
    hit_small, hit_large = small["routing"]["hit_us"], large["routing"]["hit_us"]
    ratio = hit_large["median"] / hit_small["median"]
    sign_small, sign_large = small["signup"], large["signup"]
    sign_ratio = sign_large["median"] / sign_small["median"]
    return [
        figure(
            f"routing a request at {m:,} tenants, cached host (us)",
            hit_large["median"],
            hit_small["median"],
            baseline_name=f"same at {n} tenants; {speed}; statements per request "
            f"{large['routing']['statements_per_hit']:.0f} vs "
            f"{small['routing']['statements_per_hit']:.0f}; first sight of a host "
            f"{large['routing']['miss_us']:.0f} vs {small['routing']['miss_us']:.0f} us",
            ratio=ratio,
            target="ratio <= 1.10",
            meets=ratio <= 1.10
            and large["routing"]["statements_per_hit"] <= small["routing"]["statements_per_hit"],
            spread=_spread(hit_large, hit_small),
            at=[small["routing"], large["routing"]],
            control_ms=[small["control_ms"], large["control_ms"]],
        ),
        figure(
            f"sign-up p50 at {m:,} tenants (s)",
            sign_large["median"],
            sign_small["median"],
            baseline_name=f"same sign-up at {n} tenants; {speed}",
            ratio=sign_ratio,
            target="ratio <= 1.10",
            meets=sign_ratio <= 1.10,
            spread=_spread(sign_large, sign_small),
            control_ms=[small["control_ms"], large["control_ms"]],
        ),
        figure(
            f"no-op migrate_tenants at {m:,} tenants (s)",
            large["migrate_tenants_s"],
            small["migrate_tenants_s"],
            baseline_name=f"same command at {n} tenants (one run each; mostly start-up)",
            ratio=large["migrate_tenants_s"] / small["migrate_tenants_s"],
            target="(information)",
            meets=None,
        ),
    ]


# a, f. HTTP -----------------------------------------------------------------------------------


def seed_api_tenant():
    """A tenant with 50 products, customers and orders (2 items each); its owner's JWT."""
    from django_tenants.utils import tenant_context

    from tenant_apps.catalog.models import Category, Product, ProductStatus
    from tenant_apps.orders.models import Customer, Order, OrderItem, OrderStatus
    from tenants.authentication import tenant_token_pair
    from tenants.provisioning import tenant_provision
    from tests.benchmarks.schemas import create_spare

    create_spare()
    provisioned = tenant_provision(
        name="Bench API",
        subdomain="bench-api",
        owner_email="owner@bench-api.bench",
        owner_password=PASSWORD,
        plan_code="pro",
    )
    tenant = provisioned.tenant
    with tenant_context(tenant):
        categories = Category.objects.bulk_create(
            [Category(name=f"Category {i}", slug=f"category-{i}") for i in range(5)]
        )
        products = Product.objects.bulk_create(
            [
                Product(
                    name=f"Product {i}",
                    slug=f"product-{i}",
                    description="A product of the benchmark catalog.",
                    price=Decimal("9.99") + i,
                    stock=1_000,
                    status=ProductStatus.ACTIVE,
                    category=categories[i % 5],
                )
                for i in range(50)
            ]
        )
        customers = Customer.objects.bulk_create(
            [Customer(name=f"Customer {i}", email=f"customer{i}@bench.example") for i in range(50)]
        )
        orders = Order.objects.bulk_create(
            [
                Order(
                    customer=customers[i % 50],
                    total=products[i % 50].price + products[(i + 1) % 50].price,
                    status=OrderStatus.PAID if i % 2 else OrderStatus.PLACED,
                )
                for i in range(50)
            ]
        )
        OrderItem.objects.bulk_create(
            [
                OrderItem(
                    order=order,
                    product=products[(i + k) % 50],
                    quantity=1,
                    unit_price=products[(i + k) % 50].price,
                    line_total=products[(i + k) % 50].price,
                )
                for i, order in enumerate(orders)
                for k in (0, 1)
            ]
        )
    token = tenant_token_pair(user=provisioned.user, tenant=tenant)["access"]
    return tenant, provisioned.domain.domain, token


def bench_http(*, runs: int, seconds: float) -> list[dict]:
    from tenants.services import tenant_destroy
    from tests.benchmarks import web

    if not web.wrk_available():
        log(web.WRK_MISSING)
        return [
            figure(
                name,
                None,
                None,
                baseline_name="not measured: " + web.WRK_MISSING,
                ratio=None,
                target=target,
                meets=None,
            )
            for name, target in [
                ("requests/s, GET products (20 rows), 8 clients", "ratio >= 0.90"),
                (
                    "requests/s, GET products (20 rows) vs a plain-Django view: the ceiling",
                    "ratio >= 0.35",
                ),
                *(
                    (f"latency p99, GET {e} (20 rows), 8 clients (ms)", f"< {P99_TARGET_MS:.0f}")
                    for e in ENDPOINTS
                ),
            ]
        ]

    tenant, host, token = seed_api_tenant()
    # Every request on a new connection: gunicorn's workers race to accept, and 8
    # long-lived connections often all land on one of the two workers (half the
    # throughput, by chance, on one side of a pair). New connections spread evenly.
    load = {"host": host, "token": token, "reconnect": True}
    results: dict[str, dict[str, list[dict]]] = {
        e: {"tessera": [], "baseline": []} for e in ENDPOINTS
    }
    results["products"]["ceiling"] = []
    try:
        with tempfile.TemporaryDirectory(prefix="tessera-bench-web-") as directory:
            log("http: starting gunicorn with and without tenancy, and the ceiling")
            with web.servers(Path(directory), tenant.schema_name) as started:
                ceiling = started["ceiling"]
                servers = {name: started[name] for name in ("tessera", "baseline")}
                settle("http")
                for endpoint in ENDPOINTS:
                    path = f"/api/v1/{endpoint}/{PAGE}"
                    bodies = {}
                    for name, server in servers.items():
                        status, body = web.get(server, path, host=host, token=token)
                        assert status == 200, (name, status, body[:300])
                        bodies[name] = json.loads(body)
                        assert len(bodies[name]["results"]) == 20, bodies[name]
                    assert bodies["tessera"] == bodies["baseline"], f"{endpoint}: not the same data"
                    for server in servers.values():  # warm-up: connections, caches, imports
                        web.wrk(server, path, **load, seconds=2)
                    if endpoint == "products":
                        status, body = web.get(ceiling, CEILING_PATH, host=host, token=token)
                        assert status == 200, ("ceiling", status, body[:300])
                        rows = json.loads(body)["results"]
                        assert [r["id"] for r in rows] == [
                            r["id"] for r in bodies["tessera"]["results"]
                        ], "the ceiling does not serve the same 20 rows"
                        web.wrk(ceiling, CEILING_PATH, **load, seconds=2)
                for run in range(runs):
                    order = list(servers.values())
                    if run % 2:
                        order.reverse()
                    for endpoint in ENDPOINTS:
                        path = f"/api/v1/{endpoint}/{PAGE}"
                        if endpoint == "products":
                            # The ratios' endpoint: half-length runs in A B C C B A order
                            # (Tessera, tenancy off, ceiling), so a drift in load cancels
                            # within the round for both pairs.
                            sequence = [*order, ceiling, ceiling, *reversed(order)]
                            length = max(2, seconds / 2)
                        elif run < max(3, runs // 2):  # fewer runs for latency-only ones
                            sequence, length = order, seconds
                        else:
                            continue
                        for server in sequence:
                            target = CEILING_PATH if server is ceiling else path
                            result = web.wrk(server, target, **load, seconds=length)
                            results[endpoint][server.name].append(result)
                    log(f"http: round {run + 1}/{runs} done")
    finally:
        tenant_destroy(tenant=tenant)
    return http_rows(results)


def http_rows(results: dict[str, dict[str, list[dict]]]) -> list[dict]:
    products = results["products"]
    ours = summary([r["rps"] for r in products["tessera"]])
    theirs = summary([r["rps"] for r in products["baseline"]])
    # Each pair ran back to back, so a change in machine load between pairs cancels out.
    paired = [
        a["rps"] / b["rps"] for a, b in zip(products["tessera"], products["baseline"], strict=True)
    ]
    ratio = statistics.median(paired)
    rows = [
        figure(
            "requests/s, GET products (20 rows), 8 clients",
            ours["median"],
            theirs["median"],
            baseline_name="same endpoint and data, tenancy switched off; ratio: median of "
            f"back-to-back pairs ({min(paired):.2f}-{max(paired):.2f})",
            ratio=ratio,
            target="ratio >= 0.90",
            meets=ratio >= 0.90,
            spread=_spread(ours, theirs),
            paired_ratios=paired,
        )
    ]
    ceiling = results["products"].get("ceiling")
    if ceiling:
        top = summary([r["rps"] for r in ceiling])
        to_ceiling = [
            a["rps"] / c["rps"] for a, c in zip(products["tessera"], ceiling, strict=True)
        ]
        ceiling_ratio = statistics.median(to_ceiling)
        rows.append(
            figure(
                "requests/s, GET products (20 rows) vs a plain-Django view: the ceiling",
                ours["median"],
                top["median"],
                baseline_name="the same 20 rows from the same tables by a plain-Django view "
                "(.values() + JsonResponse; no DRF, auth, tenancy or middleware), same "
                f"gunicorn and wrk; ratio: median of back-to-back pairs "
                f"({min(to_ceiling):.2f}-{max(to_ceiling):.2f})",
                ratio=ceiling_ratio,
                target="ratio >= 0.35",
                meets=ceiling_ratio >= 0.35,
                spread=_spread(ours, top),
                paired_ratios=to_ceiling,
            )
        )
    for endpoint in ENDPOINTS:
        ours = summary([r["p99_ms"] for r in results[endpoint]["tessera"]])
        theirs = summary([r["p99_ms"] for r in results[endpoint]["baseline"]])
        p50 = statistics.median(r["p50_ms"] for r in results[endpoint]["tessera"])
        base_p50 = statistics.median(r["p50_ms"] for r in results[endpoint]["baseline"])
        rps = statistics.median(r["rps"] for r in results[endpoint]["tessera"])
        rows.append(
            figure(
                f"latency p99, GET {endpoint} (20 rows), 8 clients (ms)",
                ours["median"],
                theirs["median"],
                baseline_name=f"tenancy off; p50 {p50:.1f} vs {base_p50:.1f} ms; "
                f"{rps:.0f} requests/s",
                ratio=ours["median"] / theirs["median"],
                target=f"< {P99_TARGET_MS:.0f}",
                meets=ours["median"] < P99_TARGET_MS,
                spread=_spread(ours, theirs),
                p50_ms={"value": p50, "baseline": base_p50},
            )
        )
    return rows


# The pooler's range of ports (18100-18199); TESSERA_BENCH_POOLER_PORT moves it.
POOLER_PORT = int(os.environ.get("TESSERA_BENCH_POOLER_PORT", "18130"))


def bench_pooler(*, runs: int, seconds: float) -> list[dict]:
    """Requests/s of the products list through PgBouncer (transaction mode) vs straight to
    PostgreSQL: two gunicorns with Tessera's tenancy, the same settings and data, one
    connecting through a PgBouncer whose pool holds as many server connections as the
    server has workers. Paired A B B A like the tenancy pair (SPEC §9: >= 0.90)."""
    from tenants.services import tenant_destroy
    from tests.benchmarks import web
    from tests.pgbouncer import PGBOUNCER_MISSING, PgBouncer, pgbouncer_binary

    name, target = "requests/s, GET products (20 rows), 8 clients, through PgBouncer", ">= 0.90"
    missing = None if web.wrk_available() else web.WRK_MISSING
    missing = missing or (None if pgbouncer_binary() else PGBOUNCER_MISSING)
    from django.db import connection

    if missing is None and not (connection.settings_dict.get("HOST") or "").startswith("/"):
        missing = "PgBouncer is started on the embedded server's socket only"
    if missing:
        log(missing)
        return [
            figure(
                name,
                None,
                None,
                baseline_name="not measured: " + missing,
                ratio=None,
                target=target,
                meets=None,
            )
        ]
    tenant, host, token = seed_api_tenant()
    load = {"host": host, "token": token, "reconnect": True}
    path = f"/api/v1/products/{PAGE}"
    results: dict[str, list[dict]] = {"pooled": [], "direct": []}
    # As deployed (docker/pgbouncer): PgBouncer's default server_check_delay (the tests'
    # 0 adds a SELECT 1 before every transaction), a pool as large as gunicorn's workers
    # (2 sync workers: nobody waits for a server connection), and the same transport as
    # the direct side (a Unix socket), so the pair differs only by the pooler's hop.
    # gunicorn.conf.py's default, or the GUNICORN_WORKERS the bench passes on (web.py)
    workers = int(os.environ.get("GUNICORN_WORKERS", 0)) or web.default_workers()
    bouncer = PgBouncer(
        port=POOLER_PORT,
        upstream_socket_dir=connection.settings_dict["HOST"],
        pool_size=workers,
        server_check_delay=30,
        unix_socket=True,
    )
    try:
        bouncer.start()
        with tempfile.TemporaryDirectory(prefix="tessera-bench-pooler-") as directory:
            log("pooler: starting gunicorn through PgBouncer and direct")
            started = {}
            try:
                started["pooled"] = web.start(
                    "pooled",
                    "config.settings.production",
                    Path(directory),
                    DATABASE_URL=bouncer.socket_url(connection.settings_dict["NAME"]),
                )
                started["direct"] = web.start(
                    "direct", "config.settings.production", Path(directory)
                )
                settle("pooler")
                bodies = []
                for server in started.values():
                    status, body = web.get(server, path, host=host, token=token)
                    assert status == 200, (server.name, status, body[:300])
                    bodies.append(json.loads(body))
                    web.wrk(server, path, **load, seconds=2)  # warm-up
                assert bodies[0] == bodies[1], "not the same data"
                for run in range(runs):
                    order = list(started.values())
                    if run % 2:
                        order.reverse()
                    for server in [*order, *reversed(order)]:
                        results[server.name].append(
                            web.wrk(server, path, **load, seconds=max(2, seconds / 2))
                        )
                    log(f"pooler: round {run + 1}/{runs} done")
            finally:
                for server in started.values():
                    web.stop(server)
    finally:
        bouncer.cleanup()
        tenant_destroy(tenant=tenant)
    ours = summary([r["rps"] for r in results["pooled"]])
    theirs = summary([r["rps"] for r in results["direct"]])
    paired = [
        a["rps"] / b["rps"] for a, b in zip(results["pooled"], results["direct"], strict=True)
    ]
    ratio = statistics.median(paired)
    return [
        figure(
            name,
            ours["median"],
            theirs["median"],
            baseline_name="same endpoint, data and tenancy, straight to PostgreSQL; ratio: "
            f"median of back-to-back pairs ({min(paired):.2f}-{max(paired):.2f})",
            ratio=ratio,
            target=target,
            meets=ratio >= 0.90,
            spread=_spread(ours, theirs),
            paired_ratios=paired,
        )
    ]


# c. Sign-up, pool vs stock, as migrations accumulate -----------------------------------------


def bench_signup(*, runs: int, database: str, rounds: int = 4) -> list[dict]:
    """Children with 0 and 50 extra migrations, alternately, ``rounds`` times: a burst of
    other load then lands on both sides instead of on one."""
    from tests.benchmarks.provisioning import run_child

    pooled_runs, stock_runs = max(2, -(-3 * runs // rounds)), max(1, -(-runs // rounds))
    samples: dict[int, dict[str, list[float]]] = {
        0: {"pooled": [], "stock": []},
        50: {"pooled": [], "stock": []},
    }
    for round_ in range(rounds):
        for extra in (0, 50) if round_ % 2 == 0 else (50, 0):
            settle(f"signup-{round_}-{extra}")
            log(f"sign-up: round {round_ + 1}/{rounds}, {extra} extra tenant migrations")
            result = run_child(
                extra_migrations=extra,
                pooled_runs=pooled_runs,
                stock_runs=stock_runs,
                database=database,
            )
            for side in ("pooled", "stock"):
                samples[extra][side] += result[side]
    pool0, stock0 = summary(samples[0]["pooled"]), summary(samples[0]["stock"])
    pool50, stock50 = summary(samples[50]["pooled"]), summary(samples[50]["stock"])
    flat = pool50["median"] / pool0["median"]
    return [
        figure(
            "sign-up to a working tenant, p50 (s)",
            pool0["median"],
            stock0["median"],
            baseline_name="same sign-up, schema migrated on the request path (stock)",
            ratio=pool0["median"] / stock0["median"],
            target="<= 0.5 s",
            meets=pool0["median"] <= 0.5,
            spread=_spread(pool0, stock0),
        ),
        figure(
            "sign-up p50 with 50 more tenant migrations (s)",
            pool50["median"],
            pool0["median"],
            baseline_name="same, without them; stock path: "
            f"{stock50['median']:.2f} s vs {stock0['median']:.2f} s "
            f"({stock50['median'] / stock0['median']:.2f}x)",
            ratio=flat,
            target="ratio <= 1.10, <= 0.5 s",
            meets=flat <= 1.10 and pool50["median"] <= 0.5,
            spread=_spread(pool50, pool0),
            stock={"without": stock0, "with_50": stock50},
        ),
    ]


# d. No-op migrations --------------------------------------------------------------------------


def bench_migrate(*, tenants: int, runs: int, stock_runs: int, database: str) -> list[dict]:
    from tests.benchmarks.migrating import noop_times
    from tests.benchmarks.schemas import drop_spares, grow_tenants

    log(f"migrations: creating {tenants} tenant schemas")
    grow_tenants(tenants, progress=False)
    drop_spares()
    settle("migrate")
    log(f"migrations: no-op runs over {tenants} tenants (stock x{stock_runs})")
    times = noop_times(database, runs=runs, stock_runs=stock_runs)
    fast, stock = summary(times["fast"]), summary(times["stock"])
    speedup = stock["median"] / fast["median"]
    return [
        figure(
            f"no-op migrate over {tenants:,} tenants (s)",
            fast["median"],
            stock["median"],
            baseline_name="stock migrate_schemas --tenant --executor=multiprocessing "
            "(2 processes); both as manage.py processes",
            ratio=speedup,
            target="speed-up >= 10x",
            meets=speedup >= 10,
            spread=_spread(fast, stock),
        )
    ]


# Output ------------------------------------------------------------------------------------


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def table(rows: list[dict]) -> str:
    width = max(len(r["figure"]) for r in rows) + 2
    aim = max(len(r["target"]) for r in rows) + 2
    head = f"{'figure':<{width}}{'tessera':>10}{'baseline':>11}{'ratio':>8}  {'target':<{aim}}meets"
    lines = [head, "-" * len(head)]
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        meets = {True: "yes", False: "NO", None: "-"}[row["meets"]]
        lines.append(
            f"{row['figure']:<{width}}{_fmt(row['value']):>10}{_fmt(row['baseline']):>11}"
            f"{ratio:>8}  {row['target']:<{aim}}{meets}"
        )
        note = f"baseline: {row['baseline_name']}"
        spread = row.get("spread")
        if spread:
            note += f"; spread {_fmt(spread['value'][0])}-{_fmt(spread['value'][1])}"
            if "baseline" in spread:
                note += f" vs {_fmt(spread['baseline'][0])}-{_fmt(spread['baseline'][1])}"
            if "ratio" in spread:  # paired runs: the ratio of each
                note += f", ratio per run {_fmt(spread['ratio'][0])}-{_fmt(spread['ratio'][1])}"
            note += f", n={spread['n']}"
        lines.append(f"    {note}")
    return "\n".join(lines)


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="SPEC §9 figures against their baselines",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--full", action="store_true", help="1,000 / 10,000 tenant sizes")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each measurement")
    parser.add_argument("--stock-migrate-runs", type=int, default=2)
    parser.add_argument("--json", default="bench-results.json")
    parser.add_argument(
        "--only",
        default="celery,statements,http,pooler,webhooks,signup,migrate,scale",
        help="comma-separated subset of the default list",
    )
    args = parser.parse_args(argv)
    sizes = SIZES["full" if args.full else "default"]
    only = set(args.only.split(","))
    started, load_before = time.perf_counter(), os.getloadavg()
    old_config = _setup()
    from django.db import connection
    from django.test.utils import teardown_databases

    from config.celery import app
    from tests.benchmarks.broker import private_broker

    database = connection.settings_dict["NAME"]
    rows: list[dict] = []
    try:
        with private_broker(app):
            if "celery" in only:
                log(f"celery: fan-out and connection memory over {sizes['celery']} tenants")
                rows += bench_celery(sizes["celery"])
            if "statements" in only:
                rows += section("statements", bench_statements)
            small = None
            if "scale" in only:
                small = section(
                    "scale", lambda: scale_point(SMALL, runs=args.runs, database=database)
                )
            if "http" in only:
                rows += section(
                    "http", lambda: bench_http(runs=args.runs, seconds=sizes["duration"])
                )
            if "pooler" in only:
                rows += section(
                    "pooler", lambda: bench_pooler(runs=args.runs, seconds=sizes["duration"])
                )
            if "webhooks" in only:
                from tests.benchmarks import webhooks

                rows += section("webhooks", lambda: webhooks.run(runs=args.runs))
            if "signup" in only:
                rows += section("signup", lambda: bench_signup(runs=args.runs, database=database))
            if "migrate" in only:
                rows += section(
                    "migrate",
                    lambda: bench_migrate(
                        tenants=sizes["migrate"],
                        runs=args.runs,
                        stock_runs=args.stock_migrate_runs,
                        database=database,
                    ),
                )
            if isinstance(small, dict):
                rows += section(
                    "scale",
                    lambda: scale_rows(
                        small, scale_point(sizes["scale"], runs=args.runs, database=database)
                    ),
                )
            elif small is not None:
                rows += small
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)
    load_after = os.getloadavg()
    print(table(rows))
    print(
        f"\n{'full' if args.full else 'default'} size, {args.runs} runs, "
        f"{time.perf_counter() - started:.0f} s; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f}; {os.cpu_count()} CPUs"
    )
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "size": "full" if args.full else "default",
        "sizes": sizes,
        "runs": args.runs,
        "seconds": time.perf_counter() - started,
        "load_average": {"before": load_before, "after": load_after},
        "cpu_busy_before_phase": SETTLED,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    meta["failed_sections"] = FAILED_SECTIONS
    with open(args.json, "w") as handle:
        json.dump({"meta": meta, "figures": rows}, handle, indent=2, default=str)
    if FAILED_SECTIONS:
        print(f"failed: {', '.join(FAILED_SECTIONS)} (tracebacks above, on stderr)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
