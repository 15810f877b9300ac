"""A tenant's full data export at 100,000 orders: time and peak memory (ADR 0023).

Not part of ``make bench`` nor of the suite; run once by hand::

    .venv/bin/python -m tests.benchmarks.data_export [--orders 100000]

Builds a throw-away database (``tessera_bench_export``), one tenant holding ``--orders``
orders with one item each (plus 1,000 customers, 100 products), then builds the archive
twice through ``tenants.data.services.data_export_run``: once timed, with the process's
peak RSS reset before it (``/proc/self/clear_refs``), once under ``tracemalloc`` for the
peak of Python allocations. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("LOG_LEVEL", "WARNING")
DATABASE = "tessera_bench_export"


def _rss_peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _reset_rss_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _fill(orders: int) -> None:
    from tenant_apps.catalog.models import Product
    from tenant_apps.orders.models import Customer, Order, OrderItem

    products = Product.objects.bulk_create(
        Product(name=f"Product {i}", slug=f"product-{i}", price=Decimal("12.50"), stock=10**6)
        for i in range(100)
    )
    customers = Customer.objects.bulk_create(
        Customer(name=f"Customer {i}", email=f"customer{i}@shop.test") for i in range(1000)
    )
    batch = 5000
    for start in range(0, orders, batch):
        created = Order.objects.bulk_create(
            Order(customer=customers[i % 1000], total=Decimal("12.50"), notes=f"order {i}")
            for i in range(start, min(orders, start + batch))
        )
        OrderItem.objects.bulk_create(
            OrderItem(
                order=order,
                product=products[n % 100],
                quantity=1,
                unit_price=Decimal("12.50"),
                line_total=Decimal("12.50"),
            )
            for n, order in enumerate(created)
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()

    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": DATABASE}
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="tessera-export-bench-")
    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    old = setup_databases(verbosity=0, interactive=False)
    try:
        from tenants.data.services import data_export_request, data_export_run
        from tenants.provisioning import tenant_provision

        provisioned = tenant_provision(
            name="Bench Shop",
            subdomain="benchshop",
            owner_email="owner@benchshop.test",
            owner_password="Zq7!vX9#mK2$wL5^",
        )
        tenant, owner = provisioned.tenant, provisioned.user
        connection.set_tenant(tenant)
        started = time.perf_counter()
        _fill(args.orders)
        print(f"filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        def build():
            export = data_export_request(tenant=tenant, acting_user=owner)
            return data_export_run(export_id=export.pk)

        _reset_rss_peak()
        rss_before = _rss_peak_kib()
        started = time.perf_counter()
        export = build()
        seconds = time.perf_counter() - started
        rss_peak = _rss_peak_kib()
        assert export.status == "done", export.error

        tracemalloc.start()
        traced = build()
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert traced.status == "done", traced.error
        print(
            json.dumps(
                {
                    "orders": args.orders,
                    "tables": export.table_count,
                    "rows": export.row_count,
                    "archive_bytes": export.size_bytes,
                    "seconds": round(seconds, 2),
                    "rss_before_kib": rss_before,
                    "rss_peak_kib": rss_peak,
                    "rss_growth_kib": rss_peak - rss_before,
                    "python_peak_kib": python_peak // 1024,
                    "chunk_size": settings.TENANT_DATA_EXPORT_CHUNK_SIZE,
                },
                indent=2,
            )
        )
    finally:
        connection.set_schema_to_public()
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
