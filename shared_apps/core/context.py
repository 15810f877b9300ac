"""Per-request / per-task context shared by logging, Sentry and Celery.

A tiny module on purpose: the observability middleware sets ``request_id`` for each
HTTP request, the tenant-aware Celery task base (``tenants.tasking``) sets both
variables for each task it runs and carries them in every task it queues. Anything
that writes logs or error reports reads them from here.
"""

from __future__ import annotations

from contextvars import ContextVar

# The X-Request-ID of the HTTP request (or of the request that queued this task).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# The schema name of the tenant whose task is running, or None outside a tenant task.
tenant_schema: ContextVar[str | None] = ContextVar("tenant_schema", default=None)

# The real platform admin behind a support-access request (ADR 0024), or None: the audit
# log records it next to the member the request acts as.
support_admin_id: ContextVar[int | None] = ContextVar("support_admin_id", default=None)
