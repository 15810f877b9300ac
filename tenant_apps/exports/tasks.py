from celery import shared_task

from tenant_apps.exports.services import export_cleanup, export_run


@shared_task(name="tenant_apps.exports.tasks.run_export", acks_late=True)
def run_export(export_id: int) -> str | None:
    """Runs in the schema of the tenant that queued it (tenant-aware Celery app)."""
    export = export_run(export_id=export_id)
    return export.status if export else None


@shared_task(name="tenant_apps.exports.tasks.cleanup_exports")
def cleanup_exports() -> int:
    return export_cleanup()
