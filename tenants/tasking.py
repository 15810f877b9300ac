"""Tenant-aware Celery tasks: the one place where background work meets tenancy.

The API other code uses (see ADR 0006)::

    from tenants.tasking import for_tenant, public_task, tenant_task

    @tenant_task(queue="bulk")
    def export_orders(export_id: int) -> None:
        ...  # runs in the schema of the tenant that queued it, and only there

    # Inside a tenant request, or inside another tenant task (chains, groups and
    # chords included), the message carries the tenant and the X-Request-ID:
    export_orders.delay(export.pk)
    export_orders.delay_on_commit(export.pk)  # sent after the transaction commits

    # From the public schema (admin, commands), name the tenant explicitly:
    export_orders.apply_async(args=[export.pk], headers=for_tenant(tenant))

    @public_task()
    def replenish_spare_schemas() -> int: ...  # always runs on the public schema

``@tenant_task(writes=False)`` declares that a task does not write tenant data, so it
also runs for read-only (suspended or canceled) tenants. Plain ``@shared_task`` gets the
same base class (it is the app's default) with ``tenant_scope="auto"``: it runs in the
tenant its message carries, or on public when it carries none.

What the base class guarantees on the worker, for every task:

* The tenant is looked up in a per-process cache validated by the routing generation
  (``tenants.resolution``): a hit costs the one statement that switches the schema
  anyway; a change to any tenant or domain (suspension, deletion) is seen by the next
  task. Messages carry the schema name and the tenant id, so a tenant deleted and
  re-created under the same subdomain never receives its predecessor's work.
* A task for a tenant that no longer exists is dropped with one warning; a writing task
  for a read-only tenant is refused with one info line. Neither raises nor retries
  (Celery's ``Ignore``), so a deleted tenant's backlog drains quietly.
* Afterwards, success or failure, the connection is back on the public schema, and a
  process that has visited ``TENANT_SCHEMAS_PER_CONNECTION`` schemas closes its
  connection so PostgreSQL's per-connection catalog cache stays bounded.
* The request id and the tenant are in ``shared_apps.core.context`` (logs) and in the
  Sentry scope while the task runs, and in every task it queues.
* A task sent by ``tenants.fanout`` runs exactly once per (tenant, job, period).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from celery import current_app, shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections, transaction

from shared_apps.core import context
from tenants.walking import ConnectionRecycler

if TYPE_CHECKING:
    from tenants.models import Tenant

logger = logging.getLogger(__name__)

# The schema header has tenant-schemas-celery's name, so messages queued before the
# switch to this module still reach their tenant.
TENANT_SCHEMA_HEADER = "_schema_name"
TENANT_ID_HEADER = "tessera_tenant_id"
REQUEST_ID_HEADER = "tessera_request_id"
FANOUT_ITEM_HEADER = "tessera_fanout_item"
# Headers a task's children inherit; the fan-out item belongs to one message (and its
# retries) only.
_INHERITED_HEADERS = (TENANT_SCHEMA_HEADER, TENANT_ID_HEADER, REQUEST_ID_HEADER)
_OWN_HEADERS = (*_INHERITED_HEADERS, FANOUT_ITEM_HEADER)

AUTO, TENANT, PUBLIC = "auto", "tenant", "public"

_GENERATION_SQL = "SELECT generation FROM public.tenants_routinggeneration WHERE id = 1"


def _public_schema() -> str:
    from django_tenants.utils import get_public_schema_name

    return get_public_schema_name()


def _header(request: Any, name: str) -> Any:
    """A custom header of a task request (the Redis transport flattens them into the
    request; eager ``apply(headers=...)`` keeps them under ``headers``)."""
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


# Sending --------------------------------------------------------------------------------


def for_tenant(tenant: Tenant | None) -> dict[str, Any]:
    """Headers that send a task to ``tenant`` (or to public, for None), whatever schema
    the sender is on: ``task.apply_async(args, headers=for_tenant(tenant))``."""
    if tenant is None:
        return {TENANT_SCHEMA_HEADER: _public_schema()}
    return {TENANT_SCHEMA_HEADER: tenant.schema_name, TENANT_ID_HEADER: tenant.pk}


def _sender_tenant() -> tuple[str | None, int | None]:
    """The tenant a message sent now belongs to: the connection's tenant when it is on
    one (a request, a tenant block), else the tenant of the task this worker is running
    (chain links, chord bodies and callbacks are sent after the task body has returned
    and the connection is back on public)."""
    from django.db import connection

    schema = getattr(connection, "schema_name", None)
    if schema and schema != _public_schema():
        return schema, getattr(getattr(connection, "tenant", None), "pk", None)
    worker_task = current_app.current_worker_task
    if worker_task is not None:
        request = worker_task.request
        schema = _header(request, TENANT_SCHEMA_HEADER)
        if schema and schema != _public_schema():
            return schema, _header(request, TENANT_ID_HEADER)
    return None, None


def _sender_request_id() -> str | None:
    request_id = context.request_id.get()
    if request_id is None:
        worker_task = current_app.current_worker_task
        if worker_task is not None:
            request_id = _header(worker_task.request, REQUEST_ID_HEADER)
    return request_id


def stamp_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """Add the sender's tenant and request id to a message's headers (explicit ones win).

    Called by the Celery app for every message it sends (``config.celery``)."""
    stamped = dict(headers or {})
    if TENANT_SCHEMA_HEADER not in stamped:
        schema, tenant_id = _sender_tenant()
        if schema is not None:
            stamped[TENANT_SCHEMA_HEADER] = schema
            if tenant_id is not None:
                stamped[TENANT_ID_HEADER] = tenant_id
    if REQUEST_ID_HEADER not in stamped:
        request_id = _sender_request_id()
        if request_id:
            stamped[REQUEST_ID_HEADER] = request_id
    return stamped


# The worker's tenant cache ------------------------------------------------------------------


class TenantCache:
    """Schema name → tenant, validated by the routing generation on every use.

    ``activate`` switches the connection to the tenant and returns it, or returns None
    (connection on public) when the tenant no longer exists. A hit costs one statement,
    the schema switch itself, which also returns the current generation; when that moved
    (any tenant or domain changed anywhere), the whole cache is dropped and reloaded.
    Missing tenants are remembered too, so a deleted tenant's backlog costs one
    statement per message.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._entries: LRUCache[str, tuple[Tenant | None, int]] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, schema_name: str, tenant_id: Any = None) -> tuple[Tenant, int] | None:
        """The cached tenant and the generation it was loaded at, without any statement
        (so not validated: the caller checks the generation itself)."""
        with self._lock:
            cached = self._entries.get(schema_name)
        if cached is None or _matching(cached[0], tenant_id) is None:
            return None
        return cached  # type: ignore[return-value]

    def activate(self, schema_name: str, tenant_id: int | None = None) -> Tenant | None:
        from django_tenants.postgresql_backend.base import FakeTenant

        from tenants.postgresql_backend.base import tenant_connection

        db = tenant_connection()
        public = FakeTenant(schema_name=_public_schema())
        with self._lock:
            cached = self._entries.get(schema_name)
        if cached is not None:
            tenant, loaded_at = cached
            if db.route_to(tenant if tenant is not None else public) == loaded_at:
                return _matching(tenant, tenant_id)
            self.clear()
        db.route_to(public)
        tenant, generation = self._load(schema_name)
        with self._lock:
            self._entries[schema_name] = (tenant, generation)
        if tenant is None:
            return None
        db.route_to(tenant)
        return _matching(tenant, tenant_id)

    @staticmethod
    def _load(schema_name: str) -> tuple[Tenant | None, int]:
        from django.db.models.expressions import RawSQL

        from tenants.models import Tenant

        tenant = (
            Tenant.objects.select_related("plan")
            .filter(schema_name=schema_name)
            # The row and the generation in one statement: one consistent snapshot.
            .annotate(_generation=RawSQL(_GENERATION_SQL, []))  # noqa: S611 - constant SQL
            .first()
        )
        if tenant is not None:
            return tenant, int(tenant._generation or 0)  # type: ignore[attr-defined]
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(_GENERATION_SQL)
            row = cursor.fetchone()
        return None, int(row[0] if row and row[0] is not None else 0)


def _matching(tenant: Tenant | None, tenant_id: Any) -> Tenant | None:
    """The tenant, unless the message was for another tenant that had this schema name."""
    if tenant is None or (tenant_id is not None and int(tenant_id) != tenant.pk):
        return None
    return tenant


tenant_cache = TenantCache()
# Shared by the worker's tasks and run_for_tenants; ``every`` defaults to the setting.
recycler = ConnectionRecycler()


# The task base class ------------------------------------------------------------------------


class TenantTask(DjangoTask):
    """Base class of every Tessera task (the Celery app's default ``task_cls``)."""

    #: "tenant": needs a tenant; "public": always public; "auto": whichever it carries.
    tenant_scope: str = AUTO
    #: Writing tasks are refused for read-only (suspended, canceled) tenants.
    writes: bool = True
    #: The queue the decorators chose (``route_task`` sends it there).
    route_queue: str | None = None
    #: Retry policy of a fan-out task's failure (exponential backoff, with jitter).
    fanout_max_retries: int = 3
    fanout_backoff: float = 30.0
    fanout_backoff_max: float = 600.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:
            # Called as a plain function: runs in the caller's schema, like any code.
            return super().__call__(*args, **kwargs)
        return _run(self, args, kwargs)

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        # Stamp now: by the time the transaction commits, the sender may have moved on.
        kwargs["headers"] = stamp_headers(kwargs.get("headers"))
        transaction.on_commit(functools.partial(self.apply_async, *args, **kwargs))

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        self.apply_async_on_commit(args, kwargs)

    def signature_from_request(self, request=None, args=None, kwargs=None, queue=None, **extra):
        # Retries are re-sent from the worker: keep this message's tenant, request id and
        # fan-out item, which the Redis transport does not hand back as ``headers``.
        request = self.request if request is None else request
        headers = dict(extra.pop("headers", None) or getattr(request, "headers", None) or {})
        for name in _OWN_HEADERS:
            value = _header(request, name)
            if value is not None:
                headers.setdefault(name, value)
        return super().signature_from_request(
            request, args, kwargs, queue=queue, headers=headers, **extra
        )


def _run(task: TenantTask, args: tuple, kwargs: dict) -> Any:
    from tenants.postgresql_backend.base import tenant_connection

    request = task.request
    schema = _header(request, TENANT_SCHEMA_HEADER)
    request_id = _header(request, REQUEST_ID_HEADER)
    item_id = _header(request, FANOUT_ITEM_HEADER)
    public = _public_schema()
    db = tenant_connection()
    request_token = context.request_id.set(request_id)
    tenant_token = context.tenant_schema.set(None)
    try:
        if task.tenant_scope == PUBLIC or (task.tenant_scope == AUTO and schema in (None, public)):
            db.set_schema_to_public()
            return task.run(*args, **kwargs)
        if schema in (None, public):
            logger.error(
                "dropped %s[%s]: a tenant task queued without a tenant", task.name, request.id
            )
            raise Ignore()
        tenant_id = _header(request, TENANT_ID_HEADER)
        if item_id is not None:
            # A fan-out task whose tenant this process knows: claim its item and switch
            # schema in one statement (the common case of every periodic job).
            cached = tenant_cache.peek(schema, tenant_id)
            if cached is not None and not (task.writes and cached[0].is_read_only):
                from tenants.fanout import STALE, run_item_switching

                context.tenant_schema.set(schema)
                _tag_error_reports(schema, request_id)
                recycler.visited(schema)
                outcome = run_item_switching(task, int(item_id), *cached, args, kwargs)
                if outcome is not STALE:
                    return outcome
                # Something changed since the tenant was cached: the general path.
                context.tenant_schema.set(None)
        tenant = tenant_cache.activate(schema, tenant_id)
        if tenant is None:
            db.set_schema_to_public()
            logger.warning(
                "dropped %s[%s]: tenant %s no longer exists", task.name, request.id, schema
            )
            _skip_fanout_item(item_id, "tenant deleted")
            raise Ignore()
        if task.writes and tenant.is_read_only:
            db.set_schema_to_public()
            logger.info(
                "refused %s[%s]: tenant %s is %s (read-only)",
                task.name,
                request.id,
                schema,
                tenant.status,
            )
            _skip_fanout_item(item_id, f"tenant {tenant.status}")
            raise Ignore()
        context.tenant_schema.set(schema)
        _tag_error_reports(schema, request_id)
        recycler.visited(schema)
        if item_id is not None:
            from tenants.fanout import run_item

            return run_item(task, int(item_id), args, kwargs)
        return task.run(*args, **kwargs)
    finally:
        db.set_schema_to_public()
        context.tenant_schema.reset(tenant_token)
        context.request_id.reset(request_token)
        recycler.maybe_recycle()


def _skip_fanout_item(item_id: Any, reason: str) -> None:
    if item_id is not None:
        from tenants.fanout import skip_item

        skip_item(int(item_id), reason)


def _tag_error_reports(schema: str, request_id: str | None) -> None:
    import sentry_sdk

    # Sentry's Celery integration gives each task its own scope; without a client there
    # is no scope worth tagging (and the process-wide one would keep stale tags).
    if sentry_sdk.get_client().is_active():
        sentry_sdk.set_tag("tenant", schema)
        if request_id:
            sentry_sdk.set_tag("request_id", request_id)


@task_postrun.connect(weak=False, dispatch_uid="tessera.tasking.back_to_public")
def _back_to_public(task: Any = None, **kwargs: Any) -> None:
    """Whatever a task did to the connection (even one that switched by hand), the next
    one starts on public; a broken or expired connection is closed, as after a request."""
    from django.db import connections

    for db in connections.all(initialized_only=True):
        if getattr(db, "schema_name", None) not in (None, _public_schema()):
            db.set_schema_to_public()  # type: ignore[attr-defined]
    _close_old_connections(task)


@task_prerun.connect(weak=False, dispatch_uid="tessera.tasking.close_old_connections")
def _before_task(task: Any = None, **kwargs: Any) -> None:
    _close_old_connections(task)


def _close_old_connections(task: Any) -> None:
    # Not for eager tasks: they run inside the caller's transaction and connection.
    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()


def route_task(name, args, kwargs, options, task=None, **kw) -> dict[str, str] | None:
    """Celery router (first in ``CELERY_TASK_ROUTES``): the queue a task was declared
    with (``@tenant_task(queue=...)``); an explicit ``queue=`` when sending still wins."""
    if task is None:  # sent by name
        task = current_app.tasks.get(name)
    queue = getattr(task, "route_queue", None)
    return {"queue": queue} if queue else None


# Decorators ------------------------------------------------------------------------------------


def tenant_task(
    *, queue: str | None = None, writes: bool = True, **options: Any
) -> Callable[[Callable[..., Any]], TenantTask]:
    """A task that runs in the schema of the tenant it was queued for, and nowhere else.

    ``queue`` (default: ``CELERY_TASK_ROUTES``, else ``default``) is the queue it is sent
    to; ``writes=False`` lets it run for read-only tenants too. Other keyword arguments go
    to Celery (``name``, ``bind``, ``soft_time_limit``, ``fanout_max_retries``, ...)."""

    options.setdefault("base", TenantTask)

    def decorate(fun: Callable[..., Any]) -> TenantTask:
        return shared_task(tenant_scope=TENANT, writes=writes, route_queue=queue, **options)(fun)

    return decorate


def public_task(
    *, queue: str | None = None, **options: Any
) -> Callable[[Callable[..., Any]], TenantTask]:
    """A task that always runs on the public schema, whatever tenant queued it."""

    options.setdefault("base", TenantTask)

    def decorate(fun: Callable[..., Any]) -> TenantTask:
        return shared_task(tenant_scope=PUBLIC, writes=False, route_queue=queue, **options)(fun)

    return decorate
