from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

from tenant_apps.audit.models import AuditEntry


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, models.Model):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def audit_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record an action. Call inside the service's transaction, after the write."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or target.pk
    return AuditEntry.objects.create(
        actor_id=getattr(actor, "pk", None),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        changes=_jsonable(changes or {}),
    )
