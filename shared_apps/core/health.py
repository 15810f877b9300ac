"""Liveness and readiness checks."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.loader import MigrationLoader

logger = logging.getLogger(__name__)


@functools.cache
def _shared_migrations_on_disk() -> frozenset[tuple[str, str]]:
    """Every migration of the shared (public-schema) apps. Code does not change at run time."""
    shared_labels = {app.rsplit(".", 1)[-1] for app in settings.SHARED_APPS} | {
        "accounts",
        "organizations",
        "core",
        "tenants",
        "billing",
    }
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(key for key in loader.disk_migrations if key[0] in shared_labels)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT app, name FROM public.django_migrations")
            applied = set(cursor.fetchall())
    except Exception as exc:  # readiness must report, never raise
        logger.warning("readyz: database unavailable: %s", exc)
        return "database unavailable"
    missing = _shared_migrations_on_disk() - applied
    if missing:
        return f"{len(missing)} unapplied migrations"
    return None


def check_redis() -> str | None:
    try:
        cache.set("readyz", "1", timeout=5)
    except Exception as exc:
        logger.warning("readyz: redis unavailable: %s", exc)
        return "redis unavailable"
    return None


def readiness() -> dict[str, str]:
    checks = {"database": check_database(), "redis": check_redis()}
    return {name: (problem or "ok") for name, problem in checks.items()}
