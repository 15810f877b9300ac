"""Putting the session's spare-schema pool back after a test that committed a sign-up.

A committed ``tenant_provision`` takes a spare for good; the next tests expect the pool
the session built (conftest). ``spare_schemas_replenish`` would migrate a new spare
(every tenant migration: seconds); a test that is not about replenishing copies one of
the remaining current spares instead, with pg_dump/psql (a fraction of a second), as
conftest builds the pool in the first place.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import connection

from tenants.models import SpareSchema
from tenants.provisioning import SPARE_PREFIX, migration_fingerprint, spare_schemas_replenish
from tests.session_database import copy_schema


def spare_pool_restore() -> None:
    """Top the pool up to ``TENANT_SPARE_SCHEMAS`` current spares: copies of a current
    spare where one is left (and pg_dump/psql are there), else migrated ones (and stale
    spares dropped) by ``spare_schemas_replenish``. Outside a transaction: psql commits
    on its own connection."""
    current = migration_fingerprint()
    spares = SpareSchema.objects.filter(migration_fingerprint=current)
    missing = settings.TENANT_SPARE_SCHEMAS - spares.count()
    source = spares.order_by("id").first()
    if missing > 0 and source is not None:
        copies = [f"{SPARE_PREFIX}{uuid.uuid4().hex[:16]}" for _ in range(missing)]
        if copy_schema(connection, source.schema_name, copies):
            SpareSchema.objects.bulk_create(
                SpareSchema(schema_name=name, migration_fingerprint=current) for name in copies
            )
    spare_schemas_replenish()  # whatever is still missing, and stale spares dropped
