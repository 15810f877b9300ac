"""Fan-out over tenants on a real worker: failures stay with their tenant and are
retried; overlapping dispatchers never double-run (SPEC §6)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tenants.background.fanout import (
    fanout,
    finish_run_if_done,
    period_key,
    retry_failed,
    run_summary,
)
from tenants.background.models import (
    FanoutFailure,
    FanoutItem,
    FanoutItemStatus,
    FanoutRun,
)
from tenants.background.tasks import run_fanout
from tests import celery_support
from tests.background_tasks import fanout_probe, flaky
from tests.celery_support import probe_rows, wait_for

# Fixtures (see tests/celery_support.py).
celery_prefix = celery_support.celery_prefix
committed = celery_support.committed
worker = celery_support.worker

pytestmark = pytest.mark.usefixtures("committed_db")

BOTH = ["t_alpha", "t_beta"]


def _finished(run: FanoutRun) -> FanoutRun | None:
    run.refresh_from_db()
    return run if run.finished_at else None


def _items(run: FanoutRun) -> dict[str, FanoutItem]:
    return {item.schema_name: item for item in FanoutItem.objects.filter(run=run)}


def test_a_failing_tenant_is_recorded_and_retried_while_the_others_complete(worker, committed):
    run = fanout(
        "flaky-once",
        flaky,
        period="2026-11-21",
        schemas=BOTH,
        kwargs={"fail_times": {"t_beta": 1}},
        batch_interval=0,
        jitter=0,
    )
    assert run is not None
    wait_for(lambda: _finished(run), timeout=15, what="run finished")

    items = _items(run)
    assert (items["t_alpha"].status, items["t_alpha"].attempts) == ("succeeded", 1)
    assert (items["t_beta"].status, items["t_beta"].attempts) == ("succeeded", 2)
    failure = FanoutFailure.objects.get(run=run)
    assert (failure.schema_name, failure.job, failure.attempt, failure.will_retry) == (
        "t_beta",
        "flaky-once",
        1,
        True,
    )
    assert failure.error == "RuntimeError: boom in t_beta (try 1)"
    assert "RuntimeError" in failure.traceback
    assert [r[0] for r in probe_rows("t_alpha")] == ["2026-11-21"]
    assert [r[0] for r in probe_rows("t_beta")] == ["2026-11-21"]
    assert run_summary(run)["succeeded"] == 2


def test_a_tenant_that_keeps_failing_gives_up_after_its_retries(worker, committed):
    run = fanout(
        "flaky-always",
        flaky,
        period="2026-11-22",
        schemas=BOTH,
        kwargs={"fail_times": {"t_alpha": 99}},
        batch_interval=0,
        jitter=0,
    )
    wait_for(lambda: _finished(run), timeout=15, what="run finished")

    items = _items(run)
    assert (items["t_alpha"].status, items["t_alpha"].attempts) == ("failed", 3)
    assert items["t_alpha"].last_error == "RuntimeError: boom in t_alpha (try 3)"
    assert items["t_beta"].status == "succeeded"
    failures = FanoutFailure.objects.filter(run=run).order_by("attempt")
    assert [(f.attempt, f.will_retry) for f in failures] == [(1, True), (2, True), (3, False)]
    assert run_summary(run) == {**dict.fromkeys(run_summary(run), 0), "succeeded": 1, "failed": 1}

    # An operator retries the tenants that gave up (admin action); this time it works.
    run.task_kwargs = {"fail_times": {}}
    run.save(update_fields=["task_kwargs"])
    assert retry_failed(run) == 1
    wait_for(lambda: _finished(run), timeout=15, what="retried run finished")
    assert _items(run)["t_alpha"].status == "succeeded"
    assert [r[0] for r in probe_rows("t_alpha")] == ["2026-11-22"]


def test_two_dispatchers_started_at_once_exactly_one_runs(worker, committed):
    barrier = threading.Barrier(2)
    results: list[FanoutRun | None] = []

    def dispatch() -> None:
        try:
            barrier.wait()
            results.append(
                fanout(
                    "dup",
                    fanout_probe,
                    period=period_key("hourly"),
                    schemas=BOTH,
                    batch_size=1,
                    batch_interval=0.3,  # the dispatch takes a while: the two overlap
                    jitter=0,
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    runs = [r for r in results if r is not None]
    assert len(results) == 2 and len(runs) == 1
    run = runs[0]
    wait_for(lambda: _finished(run), timeout=15, what="run finished")
    # A later dispatcher for the same period finds the run and sends nothing.
    again = fanout("dup", fanout_probe, period=run.period, schemas=BOTH)
    assert again is not None and again.pk == run.pk
    connection.set_schema_to_public()
    assert FanoutRun.objects.filter(job="dup").count() == 1
    assert len(probe_rows("t_alpha")) == len(probe_rows("t_beta")) == 1
    assert {i.status for i in _items(run).values()} == {FanoutItemStatus.SUCCEEDED}


def test_a_dispatcher_that_died_half_way_is_resumed(worker, committed):
    """Items recorded but never sent (the dispatcher died) are sent by the next one."""
    run = FanoutRun.objects.create(job="resume", period="p", task_name=fanout_probe.name)
    FanoutItem.objects.create(run=run, schema_name="t_alpha", tenant_id=None)
    resumed = fanout("resume", fanout_probe, period="p", schemas=BOTH, batch_interval=0)
    assert resumed is not None and resumed.pk == run.pk and resumed.tenant_count == 2
    wait_for(lambda: _finished(run), timeout=15, what="resumed run finished")
    assert len(probe_rows("t_alpha")) == len(probe_rows("t_beta")) == 1
    finish_run_if_done(run.pk)  # idempotent


def test_the_beat_entry_point_fans_a_registered_task_out(worker, committed):
    result = run_fanout.apply(
        kwargs={
            "job": "beat-probe",
            "task": "tests.fanout_probe",
            "cadence": "daily",
            "schemas": BOTH,
            "batch_interval": 0,
        }
    ).get()
    assert result["job"] == "beat-probe" and result["tenants"] == 2
    assert result["period"] == period_key("daily")
    run = FanoutRun.objects.get(pk=result["run"])
    wait_for(lambda: _finished(run), timeout=15, what="run finished")
    assert [r[0] for r in probe_rows("t_alpha")] == [period_key("daily")]
