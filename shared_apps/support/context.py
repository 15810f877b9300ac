"""The real platform admin behind a support-access unit of work (ADR 0024).

Set by the support middleware for a support session's requests and by the support
services around their own audit records; read by ``shared_apps.core.observability``
(log lines, Sentry), the audit log and the task headers (``tenants.background.headers``).
"""

from __future__ import annotations

from contextvars import ContextVar

support_admin_id: ContextVar[int | None] = ContextVar("support_admin_id", default=None)
