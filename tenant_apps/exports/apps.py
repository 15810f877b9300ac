from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "tenant_apps.exports"
    label = "exports"
