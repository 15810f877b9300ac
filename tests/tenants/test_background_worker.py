"""Background work on a real worker (prefork pool, Redis, PostgreSQL): SPEC §6.

Tasks write an unqualified row into ``background_probe``, which exists in public and in
each tenant's schema, so the row lands wherever the connection really is; a
``task_postrun`` hook in the worker records the search_path after every task.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from celery import chain, chord, group
from celery.beat import ScheduleEntry, Scheduler
from django.db import connection
from django_tenants.utils import tenant_context

from config.celery import app
from tenants.background.fanout import fanout
from tenants.background.models import FanoutItem, FanoutItemStatus, FanoutRun
from tenants.models import Tenant
from tenants.services import tenant_destroy, tenant_suspend
from tests import celery_support
from tests.background_tasks import (
    chained,
    collect,
    observe,
    probe,
    probe_plain,
    public_probe,
    slow_effect,
)
from tests.celery_support import Worker, cheap_tenant, probe_rows, wait_for

# Fixtures (see tests/celery_support.py).
celery_prefix = celery_support.celery_prefix
committed = celery_support.committed
worker = celery_support.worker

# Heavy (worker processes of its own too): on the xdist worker that runs the session's
# Celery worker, one after another.
pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group("celery-worker")]


def _after_rows() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT task_name, schema_name, search_path FROM public.background_after")
        return cursor.fetchall()


def _send_for(tenant: Tenant, prefix: str) -> None:
    """Everything a tenant can queue: plain, default base, chain, group, chord, public."""
    with tenant_context(tenant):
        probe.delay(f"{prefix}-plain")
        probe_plain.delay(f"{prefix}-default-base")
        chain(probe.s(f"{prefix}-c1"), chained.s(f"{prefix}-c2"), chained.s(f"{prefix}-c3"))()
        group(probe.s(f"{prefix}-g{i}") for i in range(3))()
        chord([probe.s(f"{prefix}-h{i}") for i in range(3)], collect.s(f"{prefix}-chord"))()
        public_probe.delay(f"{prefix}-public")


def test_interleaved_tasks_of_two_tenants_stay_in_their_own_schema(worker, committed):
    alpha = Tenant.objects.get(schema_name="t_alpha")
    beta = Tenant.objects.get(schema_name="t_beta")
    for round_ in range(2):
        _send_for(alpha, f"a{round_}")
        _send_for(beta, f"b{round_}")
    # And one job the way beat sends it: by name, from the public schema, fanned out.
    entry = ScheduleEntry(
        name="probe-everywhere",
        task="tenants.tasks.run_fanout",
        schedule=timedelta(hours=1),
        kwargs={
            "job": "probe-everywhere",
            "task": "tests.fanout_probe",
            "cadence": "daily",
            "schemas": ["t_alpha", "t_beta"],
            "batch_interval": 0,
            "jitter": 0,
        },
        app=app,
    )
    Scheduler(app=app, schedule={}, lazy=True).apply_async(entry)

    per_tenant = 2 * (2 + 3 + 3 + 4) + 1  # two rounds of everything, plus the fan-out
    wait_for(
        lambda: len(probe_rows("t_alpha")) == per_tenant == len(probe_rows("t_beta")),
        timeout=20,
        what="every tenant task",
    )
    expected_tasks = 2 * per_tenant + 4 + 1  # + public probes + the beat dispatcher
    wait_for(lambda: len(_after_rows()) >= expected_tasks, timeout=10, what="postrun records")

    for tenant, prefix in ((alpha, "a"), (beta, "b")):
        rows = probe_rows(tenant.schema_name)
        assert {(r[2], r[3]) for r in rows} == {(tenant.schema_name, tenant.pk)}
        tokens = {r[0] for r in rows}
        assert all(t.startswith(prefix) for t in tokens if "-" in t and t[0] in "ab")
        assert {r[0] for r in rows if r[1] == "chain"} == {
            f"{prefix}{n}-c{i}" for n in (0, 1) for i in (2, 3)
        }
        assert {r[4] for r in rows if r[1] == "chain"} == {tenant.schema_name}
        chords = [r for r in rows if r[1] == "chord"]
        assert [r[4] for r in chords] == [",".join([tenant.schema_name] * 3)] * 2
        assert len([r for r in rows if r[1] == "fanout"]) == 1
    public = probe_rows("public")
    assert sorted(r[0] for r in public) == ["a0-public", "a1-public", "b0-public", "b1-public"]
    assert {(r[2], r[3]) for r in public} == {("public", None)}
    # After every single task the worker's connection was back on public.
    after = _after_rows()
    assert {(schema, path) for _, schema, path in after} == {("public", "public")}
    run = FanoutRun.objects.get(job="probe-everywhere")
    wait_for(lambda: FanoutRun.objects.get(pk=run.pk).finished_at, what="run finished")


def _worker_log_lines(worker: Worker, offset: int) -> list[dict]:
    lines = []
    for line in worker.log(offset).splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_deleted_and_suspended_tenants_are_dropped_quietly(worker, committed):
    gamma, delta = cheap_tenant("gamma"), cheap_tenant("delta")
    try:
        for tenant in (gamma, delta):  # warm the worker's tenant cache first
            with tenant_context(tenant):
                probe.delay("warm")
        wait_for(lambda: probe_rows("t_gamma") and probe_rows("t_delta"), what="warm-up")
        offset = len(worker.log())
        gamma_id = gamma.pk
        tenant_destroy(tenant=Tenant.objects.get(pk=gamma_id))
        tenant_suspend(tenant=delta, acting_user=None, reason="test")

        # Messages that were queued before the deletion / suspension.
        for n in range(5):
            with tenant_context(gamma):
                probe.delay(f"gone-{n}")
            with tenant_context(delta):
                probe.delay(f"suspended-{n}")
        with tenant_context(delta):
            seen = observe.delay().get(timeout=10)  # reads only: still runs

        assert seen == {"schema": "t_delta", "current_schema": "t_delta"}

        def drop_lines() -> list[dict] | None:
            lines = _worker_log_lines(worker, offset)
            dropped = [r for r in lines if r["message"].startswith("dropped tests.probe")]
            refused = [r for r in lines if r["message"].startswith("refused tests.probe")]
            ignored = [r for r in lines if r["message"].endswith("] ignored")]
            return lines if len(dropped) == len(refused) == 5 and len(ignored) == 10 else None

        lines = wait_for(drop_lines, what="ten drop lines")
        for record in lines:
            if record["message"].startswith("dropped"):
                assert record["level"] == "WARNING"
                assert "tenant t_gamma no longer exists" in record["message"]
            if record["message"].startswith("refused"):
                assert "tenant t_delta is suspended (read-only)" in record["message"]
        # No exception storm: nothing above WARNING, no exception logged, no retries;
        # per message one line of ours and Celery's "ignored" at INFO.
        assert not [r for r in lines if r["level"] in ("ERROR", "CRITICAL")]
        assert not [r for r in lines if "exc_info" in r or "retry" in r["message"].lower()]
        assert sum(r["message"].endswith("] ignored") for r in lines) == 10
        assert [r[0] for r in probe_rows("t_delta")] == ["warm"]
        assert probe_rows("public") == []
    finally:
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(schema_name__in=["t_gamma", "t_delta"]):
            tenant_destroy(tenant=tenant)


def _items(run: FanoutRun) -> dict[str, FanoutItem]:
    return {item.schema_name: item for item in FanoutItem.objects.filter(run=run)}


def test_sigkilled_pool_child_task_is_redelivered_and_runs_once(worker, committed, tmp_path):
    marker_dir = str(tmp_path)
    run = fanout(
        "kill-child",
        slow_effect,
        period="p1",
        schemas=["t_alpha"],
        kwargs={"marker_dir": marker_dir, "sleep_before": {"t_alpha": 30}, "sleep_after": {}},
        batch_interval=0,
        jitter=0,
        queue="default",  # the session worker's queue
    )
    marker = Path(marker_dir) / "t_alpha.before"
    pid = wait_for(lambda: marker.exists() and marker.read_text(), what="task mid-flight")
    os.kill(int(pid), signal.SIGKILL)  # the pool process running it

    wait_for(
        lambda: _items(run)["t_alpha"].status == FanoutItemStatus.SUCCEEDED,
        timeout=15,
        what="redelivered task done",
    )
    assert [r[:2] for r in probe_rows("t_alpha")] == [("p1", "effect")]
    assert _items(run)["t_alpha"].attempts == 1


def test_sigkilled_worker_mid_task_is_redelivered_and_each_effect_happens_once(committed, tmp_path):
    """Two tenants' tasks in flight when the whole worker is SIGKILLed: alpha's before its
    effect committed, beta's after it committed but before the message was acked. A new
    worker gets both back; each effect exists exactly once."""
    database = connection.settings_dict["NAME"]
    prefix = app.conf.broker_transport_options["global_keyprefix"]
    marker_dir = str(tmp_path)
    doomed = Worker(database=database, prefix=prefix, queues="killtest").start()
    try:
        run = fanout(
            "kill-worker",
            slow_effect,
            period="p2",
            schemas=["t_alpha", "t_beta"],
            kwargs={
                "marker_dir": marker_dir,
                "sleep_before": {"t_alpha": 30},
                "sleep_after": {"t_beta": 30},
            },
            batch_interval=0,
            jitter=0,
        )
        wait_for(
            lambda: all(
                os.path.exists(os.path.join(marker_dir, name))
                for name in ("t_alpha.before", "t_beta.after")
            ),
            what="both tasks mid-flight",
        )
        doomed.kill()
    finally:
        doomed.stop()
    items = _items(run)
    assert items["t_alpha"].status == FanoutItemStatus.QUEUED  # rolled back with the worker
    assert items["t_beta"].status == FanoutItemStatus.SUCCEEDED
    assert len(probe_rows("t_alpha")) == 0 and len(probe_rows("t_beta")) == 1

    # Redis hands unacknowledged messages to the next worker after the visibility timeout.
    successor = Worker(
        database=database, prefix=prefix, queues="killtest", visibility_timeout=1
    ).start()
    try:
        wait_for(
            lambda: (
                _items(run)["t_alpha"].status == FanoutItemStatus.SUCCEEDED
                and f"fan-out item {items['t_beta'].pk} already done" in successor.log()
                # (the last thing alpha's task does; stopping the worker before it would
                # interrupt it)
                and FanoutRun.objects.get(pk=run.pk).finished_at is not None
            ),
            timeout=20,
            what="both messages redelivered and the run finished",
        )
    finally:
        successor.kill_and_forget()  # nothing is in flight any more
    assert [r[:2] for r in probe_rows("t_alpha")] == [("p2", "effect")]
    assert [r[:2] for r in probe_rows("t_beta")] == [("p2", "effect")]
    assert FanoutRun.objects.get(pk=run.pk).finished_at is not None


def test_a_task_queued_by_a_tenant_request_runs_there_with_its_request_id(worker, committed):
    """End to end: an API request on alpha's host queues an export; the worker runs it
    in alpha's schema, and its log lines carry the request's X-Request-ID."""
    from django.core.files.storage import default_storage

    from tenant_apps.audit.models import AuditEntry
    from tenant_apps.exports.models import Export, ExportStatus
    from tests.support import bearer_client, session_world

    alpha = session_world("alpha")
    offset = len(worker.log())
    response = bearer_client(alpha, "owner").post(
        "/api/v1/exports/",
        {"kind": "orders_csv"},
        format="json",
        HTTP_X_REQUEST_ID="req-e2e-export-1",
    )
    assert response.status_code == 202, response.content
    connection.set_schema_to_public()
    tenant = Tenant.objects.get(schema_name="t_alpha")

    def finished() -> Export | None:
        with tenant_context(tenant):
            export = Export.objects.filter(status=ExportStatus.DONE).first()
        return export

    export = wait_for(finished, timeout=15, what="export done")
    try:

        def ran_lines() -> list[dict] | None:
            """The task's lines, once its "succeeded" line (written after the export row
            is done) is in the log."""
            lines = [
                r
                for r in _worker_log_lines(worker, offset)
                if r["logger"] == "celery.app.trace" and "run_export" in r["message"]
            ]
            return lines if any("succeeded" in r["message"] for r in lines) else None

        ran = wait_for(ran_lines, timeout=10, what="the task's log lines")
        assert ran and {r["request_id"] for r in ran} == {"req-e2e-export-1"}
        assert "succeeded" in ran[-1]["message"] and "t_alpha" in export.file_path
    finally:
        default_storage.delete(export.file_path)
        with tenant_context(tenant):
            Export.objects.all().delete()
            AuditEntry.objects.filter(object_type__icontains="export").delete()
