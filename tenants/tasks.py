"""Platform background tasks: the spare-schema pool, sessions and canceled tenants (the
generic fan-out dispatcher is ``tenants.background.tasks.run_fanout``)."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone

from tenants.background.tasking import public_task, tenant_task
from tenants.provisioning import spare_schemas_replenish


@public_task(name="tenants.tasks.replenish_spare_schemas", ignore_result=True)
def replenish_spare_schemas() -> int:
    """Top the pool of pre-migrated spare schemas back up (public schema, idempotent)."""
    return spare_schemas_replenish()


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
