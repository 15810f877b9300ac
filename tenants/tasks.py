"""Platform background tasks: the spare-schema pool and the generic fan-out dispatcher."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.contrib.sessions.models import Session
from django.utils import timezone

from tenants.fanout import fanout, period_key
from tenants.provisioning import spare_schemas_replenish
from tenants.tasking import public_task, tenant_task


@public_task(name="tenants.tasks.replenish_spare_schemas", ignore_result=True)
def replenish_spare_schemas() -> int:
    """Top the pool of pre-migrated spare schemas back up (public schema, idempotent)."""
    return spare_schemas_replenish()


@public_task(name="tenants.tasks.run_fanout")
def run_fanout(
    job: str,
    task: str,
    cadence: str = "daily",
    kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any] | None:
    """Beat's entry point for periodic jobs: fan ``task`` out over every live tenant for
    the current ``cadence`` period. ``options`` go to ``tenants.fanout.fanout``."""
    run = fanout(job, current_app.tasks[task], period=period_key(cadence), kwargs=kwargs, **options)
    if run is None:
        return None
    return {"run": run.pk, "job": run.job, "period": run.period, "tenants": run.tenant_count}


@tenant_task(name="tenants.tasks.clear_expired_sessions")
def clear_expired_sessions(*, period: str) -> int:
    """Delete this tenant's expired sessions (each tenant schema has its own table)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@public_task(name="tenants.tasks.purge_canceled_tenants", queue="bulk")
def purge_canceled_tenants() -> list[str]:
    """Canceled tenants past their retention period: keep a final export, drop the schema."""
    from tenants.services import tenants_canceled_purge

    return tenants_canceled_purge()
