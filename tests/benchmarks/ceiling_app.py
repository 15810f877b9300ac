"""The catalog's models for the ceiling server, without the catalog app's ``ready`` (it
registers a plan-usage counter, which imports the tenancy models a plain project lacks)."""

from django.apps import AppConfig


class CeilingCatalogConfig(AppConfig):
    name = "tenant_apps.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
