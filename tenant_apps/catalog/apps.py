from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "tenant_apps.catalog"
    label = "catalog"

    def ready(self) -> None:
        from tenant_apps.catalog import selectors  # noqa: F401 - registers its plan-usage counter
