from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "tenant_apps.integrations"
    label = "integrations"
    verbose_name = "Integrations (API keys, outgoing webhooks)"

    def ready(self) -> None:
        from tenant_apps.integrations import (
            openapi,  # noqa: F401 - registers the API-key scheme
            selectors,  # noqa: F401 - registers feature usage
        )
