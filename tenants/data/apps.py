from django.apps import AppConfig


class TenantDataConfig(AppConfig):
    name = "tenants.data"
    label = "tenant_data"
    verbose_name = "Tenant data (export and deletion)"
