"""Celery application. Tasks queued inside a tenant carry its schema (tenant-schemas-celery)."""

import os

from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

app = TenantAwareCeleryApp("tessera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
