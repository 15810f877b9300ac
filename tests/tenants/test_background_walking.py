"""Walking many schemas from one process: the connection is recycled every N schemas so
PostgreSQL's per-connection catalog cache stays bounded (measured in
tests/benchmarks/celery_bench.py)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from tenants.background import tasking
from tenants.background.headers import for_tenant
from tenants.background.recycling import ConnectionRecycler, walk_schemas
from tests import celery_support
from tests.background_tasks import observe

# Fixtures (see tests/celery_support.py).
celery_prefix = celery_support.celery_prefix
committed = celery_support.committed

pytestmark = pytest.mark.usefixtures("committed_db")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_walking_schemas_opens_a_fresh_connection_every_n_schemas(committed):
    seen = []
    for _schema in walk_schemas(["t_alpha", "t_beta", "t_alpha", "t_beta", "t_alpha"], every=2):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schema(), pg_backend_pid()")
            seen.append(cursor.fetchone())
    assert [s for s, _ in seen] == ["t_alpha", "t_beta", "t_alpha", "t_beta", "t_alpha"]
    pids = [pid for _, pid in seen]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert connection.schema_name == "public"


def test_the_count_starts_again_when_the_connection_was_replaced(committed):
    recycler = ConnectionRecycler(every=2)
    _backend_pid()
    recycler.visited("t_alpha")
    connection.close()
    _backend_pid()  # Django reconnected on its own
    recycler.visited("t_beta")
    assert recycler.visited_count == 1 and not recycler.maybe_recycle()
    recycler.visited("t_alpha")
    assert recycler.maybe_recycle() and recycler.recycles == 1


def test_tasks_recycle_the_workers_connection_too(committed, monkeypatch):
    from tenants.models import Tenant

    monkeypatch.setattr(tasking.recycler, "_every", 1)
    before = _backend_pid()
    observe.apply(headers=for_tenant(Tenant.objects.get(schema_name="t_alpha"))).get()
    assert _backend_pid() != before


def test_run_for_tenants_in_parallel_processes(committed):
    out = StringIO()
    call_command(
        "run_for_tenants",
        "--parallel",
        "2",
        "--no-progress",
        "--schemas",
        "t_alpha,t_beta",
        "--recycle-every",
        "1",
        "--task",
        "tests.observe",
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "'schema': 't_alpha'" in lines[0] and "'schema': 't_beta'" in lines[1]
    assert lines[-1].endswith("2 ok, 0 skipped, 0 failed")
