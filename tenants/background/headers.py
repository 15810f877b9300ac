"""The Celery message headers of tenancy: their names, stamping them, reading them.

Every message any Celery app in this process publishes is stamped here (the
``before_task_publish`` receiver, connected by ``tenants.background.apps``) with the
sender's tenant, request id and user id; headers the sender set explicitly always win.
The worker reads them with ``read`` (one reader, one behaviour) into the running task's
``TaskContext`` (``tenants.background.task_context``).

The schema header keeps tenant-schemas-celery's name, so that messages queued before the
switch to this package still reach their tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenants.models import Tenant

TENANT_SCHEMA_HEADER = "_schema_name"
TENANT_ID_HEADER = "tessera_tenant_id"
REQUEST_ID_HEADER = "tessera_request_id"
USER_ID_HEADER = "tessera_user_id"
FANOUT_ITEM_HEADER = "tessera_fanout_item"
#: The platform admin behind a task queued during support access (ADR 0024).
SUPPORT_ADMIN_HEADER = "tessera_support_admin_id"
#: Every header of ours a message carries (and its retries keep). A task's children
#: inherit all but the fan-out item, which belongs to one message only.
MESSAGE_HEADERS = (
    TENANT_SCHEMA_HEADER,
    TENANT_ID_HEADER,
    REQUEST_ID_HEADER,
    USER_ID_HEADER,
    SUPPORT_ADMIN_HEADER,
    FANOUT_ITEM_HEADER,
)


def public_schema() -> str:
    from django_tenants.utils import get_public_schema_name

    return get_public_schema_name()


def read(request: Any, name: str) -> Any:
    """A header of a task request, or None. The Redis transport flattens custom headers
    into the request; eager ``apply(headers=...)`` keeps them under ``headers``."""
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


def for_tenant(tenant: Tenant | None) -> dict[str, Any]:
    """Headers that send a task to ``tenant`` (or to public, for None), whatever schema
    the sender is on: ``task.apply_async(args, headers=for_tenant(tenant))``."""
    if tenant is None:
        return {TENANT_SCHEMA_HEADER: public_schema()}
    return {TENANT_SCHEMA_HEADER: tenant.schema_name, TENANT_ID_HEADER: tenant.pk}


def _sender_tenant() -> tuple[str | None, int | None]:
    """The tenant a message sent now belongs to: the connection's tenant when it is on
    one (a request, a tenant block), else the tenant of the task running here (chain
    links, chord bodies and callbacks are sent after the task body has returned and the
    connection is back on public)."""
    from django.db import connection

    from tenants.background.task_context import current_task

    schema = getattr(connection, "schema_name", None)
    if schema and schema != public_schema():
        return schema, getattr(getattr(connection, "tenant", None), "pk", None)
    task = current_task()
    if task is not None and task.schema_name and task.schema_name != public_schema():
        return task.schema_name, task.tenant_id
    return None, None


def stamp(headers: dict[str, Any] | None) -> dict[str, Any]:
    """``headers`` plus the sender's tenant, request id, user id and, in support access,
    the real admin's id (explicit ones win)."""
    from shared_apps.core.observability import current_context, current_support_admin_id

    stamped = dict(headers or {})
    if TENANT_SCHEMA_HEADER not in stamped:
        schema, tenant_id = _sender_tenant()
        if schema is not None:
            stamped[TENANT_SCHEMA_HEADER] = schema
            if tenant_id is not None:
                stamped[TENANT_ID_HEADER] = tenant_id
    sender = current_context()
    for name, value in (
        (REQUEST_ID_HEADER, sender["request_id"]),
        (USER_ID_HEADER, sender["user_id"]),
        (SUPPORT_ADMIN_HEADER, current_support_admin_id()),
    ):
        if value and name not in stamped:
            stamped[name] = value
    return stamped


def stamp_published(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """``before_task_publish`` receiver: stamp the message about to be sent, in place."""
    if headers is not None:
        headers.update(stamp(headers))
