"""Fan-out: the one dispatcher every periodic job uses to reach every live tenant.

Usage (see ADR 0006)::

    from tenants.background.fanout import fanout, period_key
    from tenants.background.tasking import tenant_task

    @tenant_task(queue="billing")
    def meter_usage(*, period: str) -> None:
        ...  # runs once per tenant and period, in that tenant's schema

    fanout("usage-metering", meter_usage, period=period_key("hourly"))

or, with no code at all, a beat entry for the generic dispatcher task::

    "usage-metering": {
        "task": "tenants.tasks.run_fanout",  # tenants.background.tasks
        "schedule": crontab(minute=5),
        "kwargs": {"job": "usage-metering", "task": "billing.tasks.meter_usage",
                   "cadence": "hourly"},
    }

What a run guarantees:

* **One dispatcher at a time per job.** The dispatcher holds a PostgreSQL advisory lock
  (keyed by the job name) while it sends; a second one started meanwhile returns None
  at once. ``(job, period)`` is unique (``FanoutRun``), so a dispatcher that comes later
  in the same period finds the run and sends nothing; one that died half-way is resumed
  by the next (only the tenants not yet sent are sent).
* **No thundering herd.** Tenants are sent in batches of ``batch_size``, with
  ``batch_interval`` plus a random jitter between batches.
* **Idempotent per (tenant, job, period).** Each tenant's share is a ``FanoutItem``.
  The worker locks that row in the same transaction as the task's own writes and marks
  it succeeded there; a redelivered or duplicated message finds it done and does
  nothing.
* **Failures stay with their tenant.** A failing tenant's error is recorded
  (``FanoutFailure``: tenant, job, attempt, error, traceback) and retried with
  exponential backoff and jitter (``fanout_max_retries``, ``fanout_backoff`` on the
  task); the other tenants are not affected. The admin shows each run's summary and can
  retry the tenants that gave up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from celery.exceptions import Ignore, Reject, Retry
from django.db import connection, transaction
from django.utils import timezone

from tenants import locks
from tenants.background import headers
from tenants.background.models import (
    OPEN_FANOUT_STATUSES,
    FanoutFailure,
    FanoutItem,
    FanoutItemStatus,
    FanoutRun,
)
from tenants.models import READ_ONLY_STATUSES, Tenant

if TYPE_CHECKING:
    # Types only: the task base calls into this module, never the other way round.
    from tenants.background.tasking import TenantTask

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
DEFAULT_BATCH_INTERVAL = 1.0  # seconds between batches
DEFAULT_JITTER = 0.5  # up to this many seconds more, at random

_RUNNABLE = (*OPEN_FANOUT_STATUSES, FanoutItemStatus.FAILED)  # as in _CLAIM_SQL


# Periods --------------------------------------------------------------------------------


def period_key(cadence: str, at: datetime | None = None) -> str:
    """The idempotency period that ``at`` (default: now, UTC) falls in for a cadence:
    ``hourly`` → ``2026-11-21T21``, ``daily`` → ``2026-11-21``, ``weekly`` → ``2026-W47``,
    ``monthly`` → ``2026-11``."""
    at = timezone.now() if at is None else at
    at = at.astimezone(UTC) if timezone.is_aware(at) else at
    if cadence == "hourly":
        return at.strftime("%Y-%m-%dT%H")
    if cadence == "daily":
        return at.strftime("%Y-%m-%d")
    if cadence == "weekly":
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    if cadence == "monthly":
        return at.strftime("%Y-%m")
    raise ValueError(f"unknown cadence {cadence!r} (hourly, daily, weekly, monthly)")


# Dispatching ------------------------------------------------------------------------------


@contextlib.contextmanager
def job_lock(job: str) -> Iterator[bool]:
    """Hold the job's advisory lock for the block if nobody else does; yields whether it
    was acquired. Transaction-level, on a connection of its own held open for the block
    (a session-level lock is not safe behind a transaction pooler, ADR 0014); freed when
    the block ends, or if this process dies mid-run (its connection closes)."""
    with locks.try_xact_lock(locks.FANOUT_JOB, job) as acquired:
        yield acquired


def live_tenants(*, writes: bool, schemas: Iterable[str] | None = None) -> list[Tenant]:
    """Tenants a job runs for: every tenant row, less read-only ones for writing jobs."""
    queryset = Tenant.objects.order_by("pk")
    if writes:
        queryset = queryset.exclude(status__in=READ_ONLY_STATUSES)
    if schemas is not None:
        queryset = queryset.filter(schema_name__in=list(schemas))
    return list(queryset.only("pk", "schema_name", "status"))


def fanout(
    job: str,
    task: TenantTask,
    *,
    period: str,
    kwargs: dict[str, Any] | None = None,
    schemas: Iterable[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    batch_interval: float = DEFAULT_BATCH_INTERVAL,
    jitter: float = DEFAULT_JITTER,
    queue: str | None = None,
) -> FanoutRun | None:
    """Send ``task(period=period, **kwargs)`` to every live tenant (or ``schemas``), once
    per tenant for this ``(job, period)``. Returns the run, or None if another dispatcher
    holds the job's lock. ``queue`` overrides the task's routing. See the module
    docstring for the guarantees."""
    from tenants.postgresql_backend.base import tenant_connection

    if connection.in_atomic_block:
        # Workers would not see the run's items until the caller commits, and would
        # take every message for a duplicate of work already done.
        raise RuntimeError("fanout() must be called outside a transaction")
    tenant_connection().set_schema_to_public()
    with job_lock(job) as acquired:
        if not acquired:
            logger.info("fan-out %s: another dispatcher is running; not starting", job)
            return None
        run, created = FanoutRun.objects.get_or_create(
            job=job,
            period=period,
            defaults={
                "task_name": task.name,
                "task_kwargs": kwargs or {},
                "dispatcher": f"{socket.gethostname()}:{os.getpid()}",
            },
        )
        if run.dispatched_at is not None:
            logger.info("fan-out %s %s: already dispatched (run %s)", job, period, run.pk)
            return run
        if not created:
            logger.warning("fan-out %s %s: resuming run %s left half-sent", job, period, run.pk)
        FanoutItem.objects.bulk_create(
            [
                FanoutItem(run=run, tenant_id=tenant.pk, schema_name=tenant.schema_name)
                for tenant in live_tenants(writes=task.writes, schemas=schemas)
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        pending = list(
            run.items.filter(status=FanoutItemStatus.PENDING)
            .order_by("pk")
            .values_list("pk", "schema_name", "tenant_id")
        )
        _send(
            run,
            task,
            pending,
            batch_size=batch_size,
            batch_interval=batch_interval,
            jitter=jitter,
            queue=queue,
        )
        run.tenant_count = run.items.count()
        run.dispatched_at = timezone.now()
        run.save(update_fields=["tenant_count", "dispatched_at"])
        logger.info(
            "fan-out %s %s: sent %d tenant task(s) (run %s)", job, period, len(pending), run.pk
        )
    finish_run_if_done(run.pk)
    return run


def _send(
    run: FanoutRun,
    task: TenantTask,
    items: Sequence[tuple[int, str, int | None]],
    *,
    batch_size: int,
    batch_interval: float,
    jitter: float,
    queue: str | None = None,
) -> None:
    from shared_apps.core.observability import current_context

    kwargs = {**run.task_kwargs, "period": run.period}
    # Every tenant's task of a run shares one request id, so their logs read together.
    request_id = current_context()["request_id"] or f"fanout-{run.job}-{run.period}-{run.pk}"
    batch_size = max(1, batch_size)
    for start in range(0, len(items), batch_size):
        if start:
            time.sleep(batch_interval + random.uniform(0, jitter))  # noqa: S311 - not crypto
        batch = items[start : start + batch_size]
        with task.app.producer_or_acquire() as producer:
            for item_id, schema_name, tenant_id in batch:
                sent: dict[str, Any] = {
                    headers.TENANT_SCHEMA_HEADER: schema_name,
                    headers.FANOUT_ITEM_HEADER: item_id,
                    headers.REQUEST_ID_HEADER: request_id,
                }
                if tenant_id is not None:
                    sent[headers.TENANT_ID_HEADER] = tenant_id
                options = {"queue": queue} if queue else {}
                task.apply_async(kwargs=kwargs, headers=sent, producer=producer, **options)
        # Only still-pending rows: a fast worker may already have finished some.
        FanoutItem.objects.filter(
            pk__in=[item[0] for item in batch], status=FanoutItemStatus.PENDING
        ).update(status=FanoutItemStatus.QUEUED, queued_at=timezone.now())


def retry_failed(run: FanoutRun) -> int:
    """Send the tenants of ``run`` that gave up once more (admin action). Returns how many."""
    from celery import current_app

    task = current_app.tasks[run.task_name]
    failed = list(
        run.items.filter(status=FanoutItemStatus.FAILED).values_list(
            "pk", "schema_name", "tenant_id"
        )
    )
    if not failed:
        return 0
    FanoutItem.objects.filter(pk__in=[item[0] for item in failed]).update(
        status=FanoutItemStatus.PENDING, attempts=0, finished_at=None
    )
    FanoutRun.objects.filter(pk=run.pk).update(finished_at=None)
    _send(run, task, failed, batch_size=DEFAULT_BATCH_SIZE, batch_interval=0, jitter=0)
    return len(failed)


# On the worker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    item_id: int
    run_id: int
    previous_attempts: int
    schema_name: str
    job: str
    period: str


# Marks the item succeeded *before* the task runs, in the task's own transaction: the
# row stays locked until commit, a failure rolls the mark back, and a duplicate message
# blocks on the lock, then finds the item done and matches nothing. One statement.
_CLAIM_SQL = """
UPDATE tenants_fanoutitem AS item
   SET status = 'succeeded', attempts = item.attempts + 1, finished_at = now(),
       task_id = %s, last_error = ''
  FROM tenants_fanoutrun AS run
 WHERE item.id = %s AND run.id = item.run_id
   AND item.status IN ('pending', 'queued', 'retrying', 'failed')
RETURNING item.run_id, item.attempts - 1, item.schema_name, run.job, run.period
"""


def run_item(task: TenantTask, item_id: int, args: tuple, kwargs: dict) -> Any:
    """Run one tenant's share exactly once (called by the task base, in the tenant)."""
    claim: _Claim | None = None
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM_SQL, [task.request.id or "", item_id])
                row = cursor.fetchone()
            if row is None:
                logger.info(
                    "%s[%s]: fan-out item %s already done; not running it again",
                    task.name,
                    task.request.id,
                    item_id,
                )
                return None
            claim = _Claim(item_id, *row)
            result = task.run(*args, **kwargs)
    except (Ignore, Reject, Retry):
        raise
    except Exception as exc:
        if claim is None:  # the claim itself failed: nothing ran, let Celery report it
            raise
        _item_failed(task, claim, exc)  # raises
    assert claim is not None
    finish_run_if_done(claim.run_id)
    return result


def _item_failed(task: TenantTask, claim: _Claim, exc: Exception) -> None:
    attempt = claim.previous_attempts + 1
    will_retry = attempt <= task.fanout_max_retries
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        FanoutItem.objects.filter(pk=claim.item_id).update(
            status=FanoutItemStatus.RETRYING if will_retry else FanoutItemStatus.FAILED,
            attempts=attempt,
            last_error=error,
            task_id=task.request.id or "",
            finished_at=None if will_retry else timezone.now(),
        )
        FanoutFailure.objects.create(
            item_id=claim.item_id,
            run_id=claim.run_id,
            schema_name=claim.schema_name,
            job=claim.job,
            attempt=attempt,
            error=error,
            traceback="".join(traceback.format_exception(exc))[-10_000:],
            will_retry=will_retry,
        )
    if will_retry:
        countdown = backoff(task, attempt)
        logger.warning(
            "fan-out %s %s: tenant %s failed (attempt %d: %s); retrying in %.1fs",
            claim.job,
            claim.period,
            claim.schema_name,
            attempt,
            error,
            countdown,
        )
        raise task.retry(exc=exc, countdown=countdown, max_retries=task.fanout_max_retries)
    logger.error(
        "fan-out %s %s: tenant %s failed %d time(s); giving up: %s",
        claim.job,
        claim.period,
        claim.schema_name,
        attempt,
        error,
    )
    finish_run_if_done(claim.run_id)
    raise exc


def backoff(task: TenantTask, attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based): exponential, capped, ±25 % jitter."""
    base = min(task.fanout_backoff * 2 ** (attempt - 1), task.fanout_backoff_max)
    return base * random.uniform(0.75, 1.25)  # noqa: S311 - not crypto


def skip_item(item_id: int, reason: str) -> None:
    """The tenant was gone or read-only when its task ran: close its item as skipped."""
    run_id = FanoutItem.objects.filter(pk=item_id).values_list("run_id", flat=True).first()
    FanoutItem.objects.filter(pk=item_id, status__in=_RUNNABLE).update(
        status=FanoutItemStatus.SKIPPED, last_error=reason, finished_at=timezone.now()
    )
    if run_id is not None:
        finish_run_if_done(run_id)


_FINISH_SQL = """
UPDATE tenants_fanoutrun SET finished_at = now()
 WHERE id = %s AND dispatched_at IS NOT NULL AND finished_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM tenants_fanoutitem
                    WHERE run_id = %s AND status IN ('pending', 'queued', 'retrying'))
"""


def finish_run_if_done(run_id: int) -> None:
    """Stamp the run finished once no tenant's share is still open (one statement)."""
    with connection.cursor() as cursor:
        cursor.execute(_FINISH_SQL, [run_id, run_id])


def run_summary(run: FanoutRun) -> dict[str, int]:
    """How many tenants of ``run`` are in each status."""
    from django.db.models import Count

    counts = dict(
        run.items.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    return {status.value: counts.get(status.value, 0) for status in FanoutItemStatus}
