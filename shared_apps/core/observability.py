"""Request ids, log context and Sentry: every log line and error carries its tenant.

One context per unit of work (a web request or a Celery task) lives in a contextvar:

* ``RequestContextMiddleware`` (first in ``MIDDLEWARE``) accepts a well-formed
  ``X-Request-ID`` or generates one, returns it on the response and binds the request.
  The tenant and the user are read from the request *when a record is written*, so a
  line logged after routing and authentication names them, and one logged before does
  not guess.
* Celery: every message carries the request id, user id and tenant in its headers
  (``tenants.background.headers``); while a task runs, they are its
  ``tenants.background.task_context.TaskContext``, which this module reads.
* ``JsonFormatter`` writes one JSON object per line with ``request_id``, ``tenant``
  and ``user_id``; ``ContextFilter`` adds the same fields for the plain format.
* ``sentry_init`` turns Sentry on when a DSN is set: Django and Celery integrations,
  PII off, and every event and transaction tagged with tenant, user id and request id.
* Support access (ADR 0024): while a platform admin acts as a member, ``user_id`` is the
  member and ``support_admin_id`` the real admin, on every log line (the field is present
  only then), on Sentry events (tag and user context) and in the tasks queued meanwhile.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
import warnings
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import LazyObject, empty
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# Accepted from clients and proxies as is; anything else is replaced by our own id, so a
# log line can never be forged or split by a crafted header.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}$")
PUBLIC_TENANT = "public"

access_logger = logging.getLogger("tessera.access")


@dataclass(frozen=True)
class _UnitOfWork:
    request_id: str | None = None
    request: HttpRequest | None = None  # web: tenant and user are read from it lazily
    user_id: str | None = None  # scripts and commands: given to ``bind``


_current: ContextVar[_UnitOfWork | None] = ContextVar("tessera_unit_of_work", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str | None:
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return None


def _tenant_of_request(request: HttpRequest) -> str | None:
    if not hasattr(request, "tenant"):  # not routed (yet): unknown host, health checks
        return None
    tenant = request.tenant
    return tenant.schema_name if tenant is not None else PUBLIC_TENANT


def _user_id_of_request(request: HttpRequest) -> str | None:
    # Never evaluate a lazy user here: that would load a session from a log call. Session
    # users are resolved once DRF or a view touched them; DRF stores JWT users as is.
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        wrapped = user._wrapped
        if wrapped is empty:
            return None
        user = wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _connection_schema() -> str | None:
    try:
        from django.db import connection

        return getattr(connection, "schema_name", None)
    except Exception:  # logging must never fail: Django may not be configured
        return None


def current_context() -> dict[str, str | None]:
    """``request_id``, ``tenant`` (schema name) and ``user_id`` of the current unit of work."""
    from tenants.background.task_context import current_task

    task = current_task()
    if task is not None:
        # The message's tenant, also before and after the body (Celery's own "Task ...
        # raised" line), when the connection is back on public.
        tenant = task.schema_name or _connection_schema()
        return {"request_id": task.request_id, "tenant": tenant, "user_id": task.user_id}
    unit = _current.get()
    if unit is None:
        return {"request_id": None, "tenant": None, "user_id": None}
    if unit.request is not None:
        return {
            "request_id": unit.request_id,
            "tenant": _tenant_of_request(unit.request),
            "user_id": _user_id_of_request(unit.request),
        }
    return {"request_id": unit.request_id, "tenant": None, "user_id": unit.user_id}


def current_support_admin_id() -> str | None:
    """The real platform admin behind this unit of work in support access, else None:
    set by support access itself, carried by a task's headers, or the request's."""
    from shared_apps.support import context as support_context
    from tenants.background.task_context import current_task

    admin_id = support_context.support_admin_id.get()
    if admin_id is not None:
        return str(admin_id)
    task = current_task()
    if task is not None:
        return task.support_admin_id
    unit = _current.get()
    if unit is None or unit.request is None:
        return None
    support = unit.request.__dict__.get("support_access")
    return str(support.admin_id) if support is not None else None


def bind(
    *, request_id: str | None, request: HttpRequest | None = None, user_id: str | None = None
) -> Token:
    """Bind a unit of work (outside requests and tasks: scripts, commands). Returns a token
    for ``unbind``."""
    return _current.set(_UnitOfWork(request_id=request_id, request=request, user_id=user_id))


def unbind(token: Token) -> None:
    _current.reset(token)


# Web ------------------------------------------------------------------------------------


class RequestContextMiddleware:
    """First middleware: request id in and out, context bound, one access line per request.

    It runs before routing and security redirects so that every response, even a 404
    for an unknown host or a redirect to HTTPS, carries ``X-Request-ID``.
    """

    QUIET_PATHS = frozenset({"/healthz", "/readyz"})  # load-balancer probes: debug level

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accepted_request_id(request.META.get(REQUEST_ID_META)) or new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        # Unbound on ``request_finished``, not here: Django logs 4xx/5xx ("django.request")
        # after the middleware chain has returned, and those lines need the context too.
        bind(request_id=request_id, request=request)
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        level = logging.DEBUG if request.path_info.rstrip("/") in self.QUIET_PATHS else logging.INFO
        if access_logger.isEnabledFor(level):
            access_logger.log(
                level,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "host": request.META.get("HTTP_HOST"),
                },
            )
        return response


def _on_request_finished(**_: Any) -> None:
    _current.set(None)


def connect_signals() -> None:
    """Unbind requests when they finish. Called from the core app's ``ready``; tasks are
    bound and unbound by ``tenants.background``."""
    from django.core.signals import request_finished

    from shared_apps.core import after_response

    # First: the work queued for after the response still logs with its request's id.
    after_response.connect_signals()
    request_finished.connect(_on_request_finished, dispatch_uid="tessera-observability")


# Logging --------------------------------------------------------------------------------

CONTEXT_FIELDS = ("request_id", "tenant", "user_id")
SUPPORT_FIELD = "support_admin_id"  # only on the lines of support access


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``tenant`` and ``user_id`` to every record (never filters)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        for field in CONTEXT_FIELDS:
            if not hasattr(record, field):
                setattr(record, field, context[field])
        if not hasattr(record, SUPPORT_FIELD):
            setattr(record, SUPPORT_FIELD, current_support_admin_id())
        return True


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line: time, level, logger, message, the context, and extras."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        context = current_context()
        for field in CONTEXT_FIELDS:
            log_data[field] = getattr(record, field, context[field])
        support_admin_id = getattr(record, SUPPORT_FIELD, None) or current_support_admin_id()
        if support_admin_id is not None:
            log_data[SUPPORT_FIELD] = str(support_admin_id)
        elif log_data.get(SUPPORT_FIELD) is None:
            log_data.pop(SUPPORT_FIELD, None)


# Sentry ---------------------------------------------------------------------------------


def _tag_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    context = current_context()
    tags = event.setdefault("tags", {})
    for field in CONTEXT_FIELDS:
        if context[field] is not None:
            tags.setdefault(field, context[field])
    if context["user_id"] is not None:
        event.setdefault("user", {}).setdefault("id", context["user_id"])
    support_admin_id = current_support_admin_id()
    if support_admin_id is not None:
        tags.setdefault(SUPPORT_FIELD, support_admin_id)
        event.setdefault("user", {}).setdefault(SUPPORT_FIELD, support_admin_id)
    return event


def sentry_init(
    *,
    dsn: str,
    environment: str,
    release: str | None = None,
    traces_sample_rate: float = 0.0,
    transport: Any = None,
) -> bool:
    """Initialise Sentry when ``dsn`` is set; returns whether it did.

    PII stays off: no cookies, headers with credentials, IP addresses or request bodies
    are sent. Events carry only the ids in their tags (tenant schema, user id, request id).
    """
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    # PII off, said explicitly even though the SDK now spells it ``data_collection`` and
    # warns about the old name: the legacy switch also keeps its event scrubber on.
    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": environment,
        "release": release or None,
        "integrations": [
            DjangoIntegration(),
            CeleryIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        "send_default_pii": False,
        "max_request_body_size": "never",
        # Locals can hold tenants' customer data; tracebacks and tags are enough.
        "include_local_variables": False,
        "traces_sample_rate": traces_sample_rate,
        "before_send": _tag_event,
        "before_send_transaction": _tag_event,
    }
    if transport is not None:
        options["transport"] = transport
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*send_default_pii.*deprecated")
        sentry_sdk.init(**options)
    return True
