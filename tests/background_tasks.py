"""Tasks used by the background-work tests, loaded by the test process and the worker.

They write to ``background_probe``, a table that ``tests.celery_support`` creates in
public and in every session tenant's schema; the insert is unqualified, so the row
lands in whatever schema the connection is on. That is the point of the tests.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery import shared_task
from celery.signals import task_postrun
from django.db import connection

from tenants.background.tasking import TenantTask, public_task, tenant_task

RECORD_AFTER_ENV = "TESSERA_TEST_RECORD_AFTER"


def _record(token: str, label: str, detail: str = "") -> str:
    tenant = getattr(connection, "tenant", None)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO background_probe (token, label, seen_schema, seen_tenant, detail)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING current_schema()",
            [token, label, connection.schema_name, getattr(tenant, "pk", None), detail],
        )
        return cursor.fetchone()[0]


@tenant_task(name="tests.probe")
def probe(token: str, label: str = "probe") -> str:
    return _record(token, label)


@shared_task(name="tests.probe_plain")
def probe_plain(token: str, label: str = "plain") -> str:
    """Plain @shared_task: the app's default base class makes it tenant-aware too."""
    return _record(token, label)


@tenant_task(name="tests.collect")
def collect(results: list[str], token: str) -> str:
    return _record(token, "chord", ",".join(sorted(results)))


@tenant_task(name="tests.chained")
def chained(previous: str, token: str) -> str:
    return _record(token, "chain", previous)


@tenant_task(name="tests.observe", writes=False)
def observe() -> dict[str, Any]:
    """Reads only: allowed for read-only tenants. Returns what it saw."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        current = cursor.fetchone()[0]
    return {"schema": connection.schema_name, "current_schema": current}


@tenant_task(name="tests.tag_event", writes=False)
def tag_event() -> dict[str, str]:
    """The tags the Sentry event hook gives an event sent from inside this task."""
    from shared_apps.core.observability import _tag_event

    return _tag_event({})["tags"]


@public_task(name="tests.public_observe")
def public_observe() -> str | None:
    return connection.schema_name


@public_task(name="tests.public_probe")
def public_probe(token: str) -> str:
    return _record(token, "public")


@tenant_task(name="tests.fanout_probe")
def fanout_probe(*, period: str, label: str = "fanout") -> str:
    return _record(period, label)


@tenant_task(name="tests.flaky", bind=True, fanout_backoff=0.2, fanout_max_retries=2)
def flaky(self, *, period: str, fail_times: dict[str, int]) -> str:
    """Fails its first ``fail_times[schema]`` attempts, then records ``period``."""
    if self.request.retries < fail_times.get(connection.schema_name, 0):
        raise RuntimeError(f"boom in {connection.schema_name} (try {self.request.retries + 1})")
    return _record(period, "flaky")


class SlowEffectTask(TenantTask):
    """Sleeps the first time it runs for a tenant, either inside the transaction (before
    its effect commits) or after the effect has committed but before the message is
    acknowledged; a marker file says whether this is the first time."""

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        marker = Path(kwargs["marker_dir"]) / f"{_schema_of(self)}.after"
        if _schema_of(self) in kwargs["sleep_after"] and not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(kwargs["sleep_after"][_schema_of(self)])


def _schema_of(task: TenantTask) -> str:
    from tenants.background import headers

    return headers.read(task.request, headers.TENANT_SCHEMA_HEADER)


@tenant_task(name="tests.slow_effect", base=SlowEffectTask, queue="killtest")
def slow_effect(
    *, period: str, marker_dir: str, sleep_before: dict[str, float], sleep_after: dict[str, float]
) -> str:
    schema = connection.schema_name
    _record(period, "effect")
    marker = Path(marker_dir) / f"{schema}.before"
    if schema in sleep_before and not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(sleep_before[schema])
    return schema


@task_postrun.connect(weak=False, dispatch_uid="tests.record_after_task")
def record_connection_after_task(task_id=None, task=None, **kwargs) -> None:
    """In the test worker: after every task, record where the connection is."""
    if os.environ.get(RECORD_AFTER_ENV) != "1":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO background_after (task_id, task_name, schema_name, search_path)"
            " VALUES (%s, %s, %s, array_to_string(current_schemas(false), ','))",
            [task_id, getattr(task, "name", ""), connection.schema_name],
        )
