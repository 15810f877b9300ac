from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.core import checks

        from tenants import openapi_auth  # noqa: F401 - registers the OpenAPI auth extension
        from tenants.replicas import check_read_your_writes

        checks.register(check_read_your_writes)
