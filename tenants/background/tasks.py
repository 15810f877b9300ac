"""The generic fan-out dispatcher, beat's entry point for every periodic job."""

from __future__ import annotations

from typing import Any

from celery import current_app

from tenants.background.fanout import fanout, period_key
from tenants.background.tasking import public_task


# The name predates this package; beat schedules and queued messages use it.
@public_task(name="tenants.tasks.run_fanout")
def run_fanout(
    job: str,
    task: str,
    cadence: str = "daily",
    kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any] | None:
    """Fan ``task`` out over every live tenant for the current ``cadence`` period.
    ``options`` go to ``tenants.background.fanout.fanout``."""
    run = fanout(job, current_app.tasks[task], period=period_key(cadence), kwargs=kwargs, **options)
    if run is None:
        return None
    return {"run": run.pk, "job": run.job, "period": run.period, "tenants": run.tenant_count}
