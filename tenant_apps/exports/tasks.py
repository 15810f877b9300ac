from tenant_apps.exports.services import export_cleanup, export_run
from tenants.background.tasking import tenant_task


@tenant_task(queue="bulk")
def run_export(export_id: int) -> str | None:
    """Runs in the schema of the tenant that queued it."""
    export = export_run(export_id=export_id)
    return export.status if export else None


@tenant_task(queue="bulk", writes=False)
def cleanup_exports(*, period: str) -> int:
    """Per tenant (fan-out, daily): delete exports older than a week, files included."""
    return export_cleanup()
