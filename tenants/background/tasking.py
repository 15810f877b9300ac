"""Tenant-aware Celery tasks: the one place where background work meets tenancy.

The API other code uses (see ADR 0006)::

    from tenants.background.headers import for_tenant
    from tenants.background.tasking import public_task, tenant_task

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
  (``tenants.routing.GenerationCache``): a hit costs the one statement that switches the schema
  anyway; a change to any tenant or domain (suspension, deletion) is seen by the next
  task. Messages carry the schema name and the tenant id, so a tenant deleted and
  re-created under the same subdomain never receives its predecessor's work.
* A task for a tenant that no longer exists is dropped with one warning; a writing task
  for a read-only tenant is refused with one info line. Neither raises nor retries
  (Celery's ``Ignore``), so a deleted tenant's backlog drains quietly.
* Afterwards, success or failure, the connection is back on the public schema, and a
  process that has visited ``TENANT_SCHEMAS_PER_CONNECTION`` schemas closes its
  connection so PostgreSQL's per-connection catalog cache stays bounded.
* The request id, the user and the tenant are the task's ``TaskContext`` while it
  runs (logs, Sentry), and in every task it queues.
* A task sent by ``tenants.background.fanout`` runs exactly once per (tenant, job,
  period).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery import current_app, shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore
from django.db import close_old_connections, transaction

from tenants.background import headers
from tenants.background.recycling import ConnectionRecycler
from tenants.background.task_context import TaskContext, context_of
from tenants.routing import GenerationCache

if TYPE_CHECKING:
    from tenants.models import Tenant

logger = logging.getLogger(__name__)

AUTO, TENANT, PUBLIC = "auto", "tenant", "public"


# The worker's tenant cache ------------------------------------------------------------------


def tenant_by_schema(schema_name: str) -> tuple[Tenant | None, int]:
    """A schema's tenant (with its plan) and the routing generation, in one statement."""
    from tenants.models import Tenant
    from tenants.routing import first_with_generation

    return first_with_generation(
        Tenant.objects.select_related("plan").filter(schema_name=schema_name)
    )


def schema_cache(maxsize: int = 10_000) -> GenerationCache[str]:
    """Schema name → tenant, validated by the routing generation (``GenerationCache``)."""
    return GenerationCache(tenant_by_schema, maxsize=maxsize)


tenant_cache = schema_cache()
# Shared by the worker's tasks and run_for_tenants; ``every`` defaults to the setting.
recycler = ConnectionRecycler()


def activate(schema_name: str, tenant_id: int | None = None) -> Tenant | None:
    """Switch the connection to the tenant of ``schema_name`` (public if there is none)
    and return it; None too when the message was for another tenant that had this
    schema name (a tenant deleted and re-created under the same subdomain)."""
    return _matching(tenant_cache.activate(schema_name), tenant_id)


def _matching(tenant: Tenant | None, tenant_id: Any) -> Tenant | None:
    if tenant is None or (tenant_id is not None and int(tenant_id) != tenant.pk):
        return None
    return tenant


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
        return _run(self, context_of(self), args, kwargs)

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        # Stamp now: by the time the transaction commits, the sender may have moved on.
        kwargs["headers"] = headers.stamp(kwargs.get("headers"))
        transaction.on_commit(functools.partial(self.apply_async, *args, **kwargs))

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        self.apply_async_on_commit(args, kwargs)

    def signature_from_request(self, request=None, args=None, kwargs=None, queue=None, **extra):
        # Retries are re-sent from the worker: keep this message's tenant, request id and
        # fan-out item, which the Redis transport does not hand back as ``headers``.
        request = self.request if request is None else request
        sent = dict(extra.pop("headers", None) or getattr(request, "headers", None) or {})
        for name in headers.MESSAGE_HEADERS:
            value = headers.read(request, name)
            if value is not None:
                sent.setdefault(name, value)
        return super().signature_from_request(
            request, args, kwargs, queue=queue, headers=sent, **extra
        )


def _run(task: TenantTask, message: TaskContext, args: tuple, kwargs: dict) -> Any:
    from tenants.background import fanout
    from tenants.postgresql_backend.base import tenant_connection

    request = task.request
    schema, item_id = message.schema_name, message.fanout_item
    public = headers.public_schema()
    db = tenant_connection()
    try:
        if task.tenant_scope == PUBLIC or (task.tenant_scope == AUTO and schema in (None, public)):
            db.set_schema_to_public()
            return task.run(*args, **kwargs)
        if schema is None or schema == public:
            logger.error(
                "dropped %s[%s]: a tenant task queued without a tenant", task.name, request.id
            )
            raise Ignore()
        tenant = activate(schema, message.tenant_id)
        if tenant is None:
            db.set_schema_to_public()
            logger.warning(
                "dropped %s[%s]: tenant %s no longer exists", task.name, request.id, schema
            )
            if item_id is not None:
                fanout.skip_item(item_id, "tenant deleted")
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
            if item_id is not None:
                fanout.skip_item(item_id, f"tenant {tenant.status}")
            raise Ignore()
        recycler.visited(schema)
        if item_id is not None:
            return fanout.run_item(task, item_id, args, kwargs)
        return task.run(*args, **kwargs)
    finally:
        db.set_schema_to_public()
        recycler.maybe_recycle()


def back_to_public(task: Any = None, **kwargs: Any) -> None:
    """``task_postrun``: whatever a task did to the connection (even one that switched by
    hand), the next one starts on public; a broken or expired connection is closed, as
    after a request."""
    from django.db import connections

    public = headers.public_schema()
    for db in connections.all(initialized_only=True):
        if getattr(db, "schema_name", None) not in (None, public):
            db.set_schema_to_public()  # type: ignore[attr-defined]
    _close_old_connections(task)


def before_task(task: Any = None, **kwargs: Any) -> None:
    """``task_prerun``."""
    _close_old_connections(task)


def _close_old_connections(task: Any) -> None:
    # Not for eager tasks: they run inside the caller's transaction and connection.
    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()


def connect_signals() -> None:
    """Celery signals of the package (called by its app's ``ready``): every published
    message is stamped; around every task, its context is bound, stale connections are
    closed, and afterwards the connection is back on public."""
    from celery import signals

    from tenants.background import task_context

    signals.before_task_publish.connect(
        headers.stamp_published, weak=False, dispatch_uid="tessera.background.stamp"
    )
    signals.task_prerun.connect(
        task_context.bind_task, weak=False, dispatch_uid="tessera.background.bind"
    )
    signals.task_prerun.connect(
        before_task, weak=False, dispatch_uid="tessera.background.close_old_connections"
    )
    signals.task_postrun.connect(
        back_to_public, weak=False, dispatch_uid="tessera.background.back_to_public"
    )
    signals.task_postrun.connect(
        task_context.unbind_task, weak=False, dispatch_uid="tessera.background.unbind"
    )


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
