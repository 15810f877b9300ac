"""Request ids, log context and Sentry: every log line and error carries its tenant.

One context per unit of work (a web request or a Celery task) lives in a contextvar:

* ``RequestContextMiddleware`` (first in ``MIDDLEWARE``) accepts a well-formed
  ``X-Request-ID`` or generates one, returns it on the response and binds the request.
  The tenant and the user are read from the request *when a record is written*, so a
  line logged after routing and authentication names them, and one logged before does
  not guess.
* Celery: ``before_task_publish`` copies the request id and user id into the message
  headers; ``task_prerun``/``task_postrun`` bind them around the task in the worker. The
  tenant of a task is the one ``tenants.tasking`` runs it in (``shared_apps.core.context``),
  else the schema its connection is on.
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

from shared_apps.core import context as shared_context

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# Accepted from clients and proxies as is; anything else is replaced by our own id, so a
# log line can never be forged or split by a crafted header.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}$")
# Celery message headers carrying the context into workers (the request id header is the
# one tenants.tasking stamps too).
TASK_REQUEST_ID_HEADER = "tessera_request_id"
TASK_USER_ID_HEADER = "tessera_user_id"
TASK_SUPPORT_ADMIN_HEADER = "tessera_support_admin_id"
# The tenant's schema, as tenants.tasking (and tenant-schemas-celery before it) stamps it.
TASK_TENANT_HEADER = "_schema_name"
PUBLIC_TENANT = "public"

access_logger = logging.getLogger("tessera.access")


@dataclass(frozen=True)
class _UnitOfWork:
    request_id: str | None = None
    request: HttpRequest | None = None  # web: tenant and user are read from it lazily
    user_id: str | None = None  # tasks: carried in the message headers
    tenant: str | None = None  # tasks: the schema the message was sent for
    in_task: bool = False
    support_admin_id: str | None = None  # tasks: queued during support access


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
    unit = _current.get()
    request_id = shared_context.request_id.get() or (unit.request_id if unit else None)
    tenant = shared_context.tenant_schema.get()  # set while tenants.tasking runs a task
    if unit is None:
        return {"request_id": request_id, "tenant": tenant, "user_id": None}
    if unit.request is not None:
        return {
            "request_id": request_id,
            "tenant": tenant or _tenant_of_request(unit.request),
            "user_id": _user_id_of_request(unit.request),
        }
    if tenant is None and unit.in_task:
        # Before and after the task body (e.g. Celery's own "Task ... raised" line) the
        # connection is back on public: the message's tenant is still the one to name.
        tenant = unit.tenant or _connection_schema()
    return {"request_id": request_id, "tenant": tenant, "user_id": unit.user_id}


def current_support_admin_id() -> str | None:
    """The real platform admin behind this unit of work in support access, else None."""
    admin_id = shared_context.support_admin_id.get()
    if admin_id is not None:
        return str(admin_id)
    unit = _current.get()
    if unit is None:
        return None
    if unit.request is not None:
        support = unit.request.__dict__.get("support_access")
        return str(support.admin_id) if support is not None else None
    return unit.support_admin_id


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
        shared_context.request_id.set(request_id)  # what tenants.tasking stamps on tasks
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
    shared_context.request_id.set(None)


# Celery ---------------------------------------------------------------------------------

_task_tokens: dict[str, Token] = {}


def _on_before_task_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None:
        return
    context = current_context()
    if context["request_id"] and TASK_REQUEST_ID_HEADER not in headers:
        headers[TASK_REQUEST_ID_HEADER] = context["request_id"]
    if context["user_id"] and TASK_USER_ID_HEADER not in headers:
        headers[TASK_USER_ID_HEADER] = context["user_id"]
    support_admin_id = current_support_admin_id()
    if support_admin_id and TASK_SUPPORT_ADMIN_HEADER not in headers:
        headers[TASK_SUPPORT_ADMIN_HEADER] = support_admin_id


def _header(task: Any, name: str) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    value = (getattr(request, "headers", None) or {}).get(name) or request.get(name)
    return str(value) if value else None


def _on_task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None:
        return
    outer = _current.get()
    request_id = _header(task, TASK_REQUEST_ID_HEADER)
    user_id = _header(task, TASK_USER_ID_HEADER)
    support_admin_id = _header(task, TASK_SUPPORT_ADMIN_HEADER)
    if outer is not None and request_id is None:
        # An eager task run inline inside a request or task: it is part of that unit.
        request_id, user_id = outer.request_id, current_context()["user_id"]
        support_admin_id = current_support_admin_id()
    _task_tokens[task_id] = _current.set(
        _UnitOfWork(
            request_id=request_id or new_request_id(),
            user_id=user_id,
            tenant=_header(task, TASK_TENANT_HEADER),
            in_task=True,
            support_admin_id=support_admin_id,
        )
    )


def _on_task_postrun(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        try:
            _current.reset(token)
        except ValueError:  # reset from another context (never expected): just clear
            _current.set(None)


def connect_signals() -> None:
    """Unbind requests when they finish; carry the context into Celery tasks. Called from
    the core app's ``ready``."""
    from celery import signals
    from django.core.signals import request_finished

    request_finished.connect(_on_request_finished, dispatch_uid="tessera-observability")

    signals.before_task_publish.connect(_on_before_task_publish, weak=False)
    signals.task_prerun.connect(_on_task_prerun, weak=False)
    signals.task_postrun.connect(_on_task_postrun, weak=False)


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
