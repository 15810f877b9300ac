from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shared_apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from shared_apps.core.observability import connect_signals

        connect_signals()
