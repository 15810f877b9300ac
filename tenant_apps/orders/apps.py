from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "tenant_apps.orders"
    label = "orders"

    def ready(self) -> None:
        from tenant_apps.orders import selectors  # noqa: F401 - registers its plan-usage counter
