"""Celery application: Redis broker, JSON only, tenant-aware tasks (ADR 0006, 0027).

Every task's base class is ``tenants.background.tasking.TenantTask``, which runs it in
its tenant's schema and puts the connection back on public afterwards; every message
published is stamped with the sender's tenant, request id and user
(``tenants.background.headers``, connected when the apps are ready). Settings are the
``CELERY_*`` ones in ``config/settings``. Database connections outlive tasks (see
``_configure``): ``tenants.background.tasking`` closes stale ones around each task.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

app = Celery("tessera", task_cls="tenants.background.tasking:TenantTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _configure(sender: Celery, **kwargs: Any) -> None:
    # Chords need a result backend; unless one is configured, keep results in the
    # broker's Redis (they expire after CELERY_RESULT_EXPIRES).
    if not sender.conf.result_backend:
        sender.conf.result_backend = sender.conf.broker_url
    # Celery's Django fixup closes every database connection before and after every
    # task unless this (old-style, read by that name only) key is set: a new connection
    # per task, several milliseconds each (more with TLS). Let it close only every
    # 1,000 tasks; tenants.background.tasking runs Django's close_old_connections around
    # each task (CONN_MAX_AGE, broken connections) and recycles after many schemas.
    sender.conf.setdefault("CELERY_DB_REUSE_MAX", 1000)
