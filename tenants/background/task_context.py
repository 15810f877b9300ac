"""The running task's context: the one place that says which tenant a task is for.

Bound from the message's headers when a task starts (``task_prerun``) and unbound when
it ends (``task_postrun``), so it also covers Celery's own lines before and after the
body ("Task ... raised") and the links a task sends after its body returned. Read by
the task base (which tenant to run in), by stamping (what the task's children inherit)
and by the logs and Sentry (``shared_apps.core.observability.current_context``).
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from tenants.background import headers


@dataclass(frozen=True)
class TaskContext:
    """What the running task's message says about its unit of work."""

    task_id: str | None
    schema_name: str | None  # the tenant the message was sent for (or "public")
    tenant_id: int | None
    request_id: str | None
    user_id: str | None
    fanout_item: int | None = None
    support_admin_id: str | None = None  # queued during support access (ADR 0024)

    @classmethod
    def of(cls, request: Any) -> TaskContext:
        """The context a task request's headers describe."""

        def text(name: str) -> str | None:
            value = headers.read(request, name)
            return str(value) if value else None

        def number(name: str) -> int | None:
            value = headers.read(request, name)
            return int(value) if value is not None else None

        return cls(
            task_id=getattr(request, "id", None),
            schema_name=text(headers.TENANT_SCHEMA_HEADER),
            tenant_id=number(headers.TENANT_ID_HEADER),
            request_id=text(headers.REQUEST_ID_HEADER),
            user_id=text(headers.USER_ID_HEADER),
            fanout_item=number(headers.FANOUT_ITEM_HEADER),
            support_admin_id=text(headers.SUPPORT_ADMIN_HEADER),
        )


_current: ContextVar[TaskContext | None] = ContextVar("tessera_task", default=None)
_tokens: dict[str, Token] = {}


def current_task() -> TaskContext | None:
    """The context of the task running here, or None outside tasks."""
    return _current.get()


def bind(context: TaskContext | None) -> Token:
    return _current.set(context)


def unbind(token: Token) -> None:
    _current.reset(token)


def context_of(task: Any) -> TaskContext:
    """The bound context when it is ``task``'s own, else the one its request describes."""
    context = _current.get()
    request = task.request
    if context is not None and context.task_id == request.id:
        return context
    return TaskContext.of(request)


def bind_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """``task_prerun`` receiver. A message without a request id takes the one of the unit
    of work it runs inside (an eager task inside a request or task), else a new one."""
    if task_id is None or task is None:
        return
    from shared_apps.core.observability import current_context

    context = TaskContext.of(task.request)
    if context.request_id is None:
        from shared_apps.core.observability import current_support_admin_id

        outer = current_context()
        context = TaskContext(
            task_id=context.task_id,
            schema_name=context.schema_name,
            tenant_id=context.tenant_id,
            request_id=outer["request_id"] or uuid.uuid4().hex,
            user_id=context.user_id or (outer["user_id"] if outer["request_id"] else None),
            fanout_item=context.fanout_item,
            support_admin_id=context.support_admin_id
            or (current_support_admin_id() if outer["request_id"] else None),
        )
    _tokens[task_id] = _current.set(context)


def unbind_task(task_id: str | None = None, **_: Any) -> None:
    """``task_postrun`` receiver."""
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        try:
            _current.reset(token)
        except ValueError:  # reset from another context (never expected): just clear
            _current.set(None)
