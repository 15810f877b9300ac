"""Background-work figures (SPEC §9, issue 5), each against its baseline in one run.

* **Fan-out throughput**: tasks/s of a fan-out of a no-op tenant task over N tenants
  (dispatcher, per-tenant exactly-once records, tenant lookup and switch on the worker)
  against the same fan-out of the same no-op whose tasks do not switch tenant (SPEC §9:
  ≥ 0.80), and, for information, against plain Celery no-op tasks (no records at all).
  Measured on a real prefork worker (2 processes) over Redis, from the first message
  sent to the last task finished, best of five rounds (sides alternating); untimed
  fan-outs first warm the pool processes' tenant caches, as in production after the
  first hours.
* **Peak memory of one PostgreSQL connection** walking N schemas (each with a small
  table and its index, queried once), with ``walk_schemas`` recycling the connection
  every ``TENANT_SCHEMAS_PER_CONNECTION`` schemas and without recycling: the sum of the
  backend's memory contexts (``pg_backend_memory_contexts``) and its RSS
  (``/proc/<backend pid>/status``, when the server runs on this machine).

The schemas and tenants are cheap (``CREATE SCHEMA`` + one table; tenant rows without
migrations), so 1,000 of them take seconds. ``run(tenants)`` expects Django set up on
a throw-away database (``tests/benchmarks/__main__.py`` does that); run on its own,
``python -m tests.benchmarks.celery_bench --tenants 1000`` sets one up
(``tessera_bench_celery``) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from celery import Task as PlainTask
from celery import shared_task
from celery.signals import task_postrun

from tenants.background.tasking import TenantTask, tenant_task

SCHEMA_PREFIX = "bench_s"
TENANT_PREFIX = "bench_t"
COUNTER_ENV = "TESSERA_BENCH_COUNTER"
BATCH_SIZE = 100


# Tasks (imported by the benchmark's worker too) -------------------------------------------


@tenant_task(name="bench.noop_tenant")
def noop_tenant(*, period: str) -> None:
    """A no-op in the tenant's schema (fan-out side)."""


class NoSwitchTask(TenantTask):
    """The fan-out's work without the tenant: the same message and the same
    exactly-once record, run on the public schema without looking the tenant up."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from tenants.background.fanout import run_item
        from tenants.background.task_context import context_of

        item = context_of(self).fanout_item
        assert item is not None
        return run_item(self, item, args, kwargs)


@tenant_task(name="bench.noop_no_switch", base=NoSwitchTask)
def noop_no_switch(*, period: str) -> None:
    """The same no-op, fanned out the same way, without tenant switching (baseline)."""


@shared_task(name="bench.noop_plain", base=PlainTask)
def noop_plain(*, period: str) -> None:
    """The same no-op with no tenancy code at all: a plain Celery task."""


@task_postrun.connect(weak=False, dispatch_uid="bench.count_done")
def _count_done(**kwargs: Any) -> None:
    """In the benchmark worker: count finished tasks in Redis (both sides pay the same)."""
    key = os.environ.get(COUNTER_ENV)
    if key:
        _redis().incr(key)


_client: Any = None


def _redis() -> Any:
    global _client
    if _client is None:
        from tests.celery_support import redis_client

        _client = redis_client()
    return _client


# Cheap schemas and tenants --------------------------------------------------------------


def _execute_chunks(statements: list[str], chunk: int = 200) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for start in range(0, len(statements), chunk):
            cursor.execute(";".join(statements[start : start + chunk]))


def create_schemas(names: list[str]) -> None:
    _execute_chunks(
        [
            f'CREATE SCHEMA "{name}"; CREATE TABLE "{name}".item '
            f"(id integer PRIMARY KEY, label text); "
            f'CREATE INDEX ON "{name}".item (label)'
            for name in names
        ],
        chunk=100,
    )


def drop_schemas(names: list[str]) -> None:
    _execute_chunks([f'DROP SCHEMA IF EXISTS "{name}" CASCADE' for name in names], chunk=100)


def create_tenants(count: int) -> list[str]:
    """``count`` tenant rows on cheap schemas; returns their schema names."""
    from billing.models import Plan
    from shared_apps.organizations.models import Organization
    from tenants.models import Tenant

    names = [f"{TENANT_PREFIX}{n:05d}" for n in range(count)]
    create_schemas(names)
    plan = Plan.objects.order_by("pk").first()
    organizations = Organization.objects.bulk_create(
        [Organization(name=name, slug=name.replace("_", "-")) for name in names]
    )
    Tenant.objects.bulk_create(
        [
            Tenant(
                schema_name=name,
                subdomain=name.replace("_", "-"),
                name=name,
                organization=organization,
                plan=plan,
                status="active",
            )
            for name, organization in zip(names, organizations, strict=True)
        ]
    )
    return names


def drop_tenants(names: list[str]) -> None:
    from shared_apps.organizations.models import Organization
    from tenants.background.models import FanoutRun
    from tenants.models import Tenant

    FanoutRun.objects.filter(job__startswith="bench-").delete()
    Tenant.objects.filter(schema_name__in=names).delete()
    Organization.objects.filter(slug__in=[n.replace("_", "-") for n in names]).delete()
    drop_schemas(names)


# Memory -------------------------------------------------------------------------------------


def _backend_memory() -> tuple[int, int | None]:
    """(sum of this backend's memory contexts, its RSS) in bytes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT sum(total_bytes) FROM pg_backend_memory_contexts), pg_backend_pid()"
        )
        contexts, pid = cursor.fetchone()
    rss = None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
    except OSError:  # the server runs elsewhere
        pass
    return int(contexts), rss


def walk_peak_memory(names: list[str], *, every: int, sample_every: int = 25) -> dict:
    """Walk ``names`` querying each schema's table; peak backend memory seen."""
    from django.db import connection

    from tenants.background.recycling import walk_schemas

    connection.close()  # start from a fresh backend
    peak_contexts, peak_rss, connections = 0, 0, set()
    started = time.perf_counter()
    for index, _schema in enumerate(walk_schemas(names, every=every)):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM item WHERE label = 'x'")
            cursor.execute("SELECT pg_backend_pid()")
            connections.add(cursor.fetchone()[0])
        # Sample before the walker may recycle (its largest moment), and regularly.
        if (index + 1) % sample_every == 0 or (every and (index + 1) % every == 0):
            contexts, rss = _backend_memory()
            peak_contexts = max(peak_contexts, contexts)
            peak_rss = max(peak_rss, rss or 0)
    contexts, rss = _backend_memory()
    return {
        "peak_context_bytes": max(peak_contexts, contexts),
        "peak_rss_bytes": max(peak_rss, rss or 0) or None,
        "connections": len(connections),
        "seconds": time.perf_counter() - started,
    }


def bench_memory(schemas: int) -> list[dict]:
    from django.conf import settings

    names = [f"{SCHEMA_PREFIX}{n:05d}" for n in range(schemas)]
    every = int(settings.TENANT_SCHEMAS_PER_CONNECTION)
    create_schemas(names)
    try:
        kept = walk_peak_memory(names, every=0)
        recycled = walk_peak_memory(names, every=every)
    finally:
        drop_schemas(names)
    mib = 1024 * 1024
    rows = [
        {
            "figure": f"peak memory of one DB connection over {schemas} schemas (MiB)",
            "value": recycled["peak_context_bytes"] / mib,
            "baseline": kept["peak_context_bytes"] / mib,
            "baseline_name": "same walk on one connection, never recycled",
            "ratio": kept["peak_context_bytes"] / recycled["peak_context_bytes"],
            "target": f"bounded: recycled every {every} schemas",
            "measure": "sum of pg_backend_memory_contexts",
            "connections": recycled["connections"],
        }
    ]
    if kept["peak_rss_bytes"] and recycled["peak_rss_bytes"]:
        rows.append(
            {
                "figure": f"peak RSS of one DB backend over {schemas} schemas (MiB)",
                "value": recycled["peak_rss_bytes"] / mib,
                "baseline": kept["peak_rss_bytes"] / mib,
                "baseline_name": "same walk on one connection, never recycled",
                "ratio": kept["peak_rss_bytes"] / recycled["peak_rss_bytes"],
                "target": f"bounded: recycled every {every} schemas",
                "measure": "VmRSS of the backend process (includes shared buffers touched)",
            }
        )
    return rows


# Throughput ---------------------------------------------------------------------------------


def _wait_for_count(key: str, count: int, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while True:
        done = int(_redis().get(key) or 0)
        if done >= count:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {done} of {count} tasks finished in {timeout}s")
        time.sleep(0.005)


def _timed_fanout(job: str, task: Any, names: list[str], key: str) -> float:
    from tenants.background.fanout import fanout

    _redis().set(key, 0)
    started = time.perf_counter()
    fanout(
        job,
        task,
        period="bench",
        schemas=names,  # only the benchmark's tenants, whatever else exists
        batch_size=BATCH_SIZE,
        batch_interval=0,
        jitter=0,
    )
    return len(names) / (_wait_for_count(key, len(names), timeout=300) - started)


def _timed_plain(count: int, key: str) -> float:
    _redis().set(key, 0)
    started = time.perf_counter()
    for start in range(0, count, BATCH_SIZE):
        with noop_plain.app.producer_or_acquire() as producer:
            for _ in range(start, min(count, start + BATCH_SIZE)):
                noop_plain.apply_async(kwargs={"period": "bench"}, producer=producer)
    return count / (_wait_for_count(key, count, timeout=300) - started)


def bench_fanout(tenants: int, *, rounds: int = 5, warm_up_rounds: int = 6) -> list[dict]:
    from django.db import connection

    from config.celery import app
    from tests.celery_support import Worker, configure_app, purge_prefix

    prefix = f"tessera-bench:{uuid.uuid4().hex[:8]}:"
    key = f"{prefix}done"
    saved = dict(app.conf.broker_transport_options or {})
    saved_urls = (app.conf.broker_url, app.conf.result_backend)
    configure_app(app, prefix=prefix)
    names = create_tenants(tenants)
    os.environ[COUNTER_ENV] = key
    worker = Worker(
        database=connection.settings_dict["NAME"],
        prefix=prefix,
        queues="default",
        include="tests.benchmarks.celery_bench",
    )
    rates: dict[str, list[float]] = {"switch": [], "no_switch": [], "plain": []}
    try:
        worker.start()
        # Each pool process caches the tenants it has met; after a few runs it has met
        # them all, as a worker in production has after its first hours.
        for n in range(warm_up_rounds):
            _timed_fanout(f"bench-warm-up-{n}", noop_tenant, names, key)
        for n in range(rounds):
            rates["plain"].append(_timed_plain(tenants, key))
            # Alternate which side goes first, so that drift in the machine's load
            # (shared cores) does not always favour the same one.
            sides = [("no_switch", noop_no_switch), ("switch", noop_tenant)]
            for side, task in sides if n % 2 == 0 else sides[::-1]:
                rates[side].append(_timed_fanout(f"bench-{side}-{n}", task, names, key))
    finally:
        worker.stop()
        os.environ.pop(COUNTER_ENV, None)
        configure_app(app, prefix=saved.get("global_keyprefix", ""), redis_db=None)
        app.conf.broker_transport_options = saved
        app.conf.broker_url, app.conf.result_backend = saved_urls
        purge_prefix(prefix)
        connection.set_schema_to_public()
        drop_tenants(names)
    best = {side: max(values) for side, values in rates.items()}
    return [
        {
            "figure": f"Celery fan-out over {tenants} tenants (tasks/s)",
            "value": best["switch"],
            "baseline": best["no_switch"],
            "baseline_name": "same fan-out (records, exactly-once claim), no tenant switching",
            "ratio": best["switch"] / best["no_switch"],
            "target": ">= 0.80",
            "rounds": {"fanout": rates["switch"], "baseline": rates["no_switch"]},
            "worker": "prefork, 2 processes",
        },
        {
            "figure": f"tenant tasks with exactly-once records, {tenants} tenants (tasks/s)",
            "value": best["switch"],
            "baseline": best["plain"],
            "baseline_name": "plain Celery no-op tasks, same batches: no tenant, no records",
            "ratio": best["switch"] / best["plain"],
            "target": "informative: what the per-tenant records cost a no-op",
            "rounds": {"fanout": rates["switch"], "baseline": rates["plain"]},
        },
    ]


def run(tenants: int) -> list[dict]:
    """Both figures over ``tenants`` tenants / schemas (Django already set up)."""
    return bench_fanout(tenants) + bench_memory(tenants)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)

    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": "tessera_bench_celery"}
    django.setup()
    from django.test.utils import setup_databases, teardown_databases

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        rows = run(args.tenants)
    finally:
        teardown_databases(old_config, verbosity=0)
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
        print(
            f"{row['figure']:<58} {row['value']:>9.1f} {row['baseline']:>9.1f} {ratio:>6}  "
            f"{row['target']}"
        )
        print(f"{'':<58} baseline: {row['baseline_name']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
