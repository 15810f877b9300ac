from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "tenant_apps.integrations"
    label = "integrations"
    verbose_name = "Integrations (API keys, outgoing webhooks)"
