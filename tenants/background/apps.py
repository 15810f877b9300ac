from django.apps import AppConfig


class TenantBackgroundConfig(AppConfig):
    name = "tenants.background"
    label = "tenant_background"
    verbose_name = "Background work"

    def ready(self) -> None:
        from tenants.background.tasking import connect_signals

        connect_signals()
