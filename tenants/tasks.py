from celery import shared_task

from tenants.provisioning import spare_schemas_replenish


@shared_task(name="tenants.tasks.replenish_spare_schemas", ignore_result=True)
def replenish_spare_schemas() -> int:
    """Top the pool of pre-migrated spare schemas back up (public schema, idempotent)."""
    return spare_schemas_replenish()
