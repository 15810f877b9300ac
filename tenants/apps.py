from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from tenants import openapi_auth  # noqa: F401 - registers the OpenAPI auth extension
