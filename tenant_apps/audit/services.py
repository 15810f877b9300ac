from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

from shared_apps.core.observability import current_support_admin_id
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
    """Record an action. Call inside the service's transaction, after the write.

    ``actor`` is a user, an API key's principal (recorded as ``actor_api_key``) or None.
    In a support-access request the real admin is recorded too (``support_admin``).
    """
    api_key = getattr(actor, "api_key", None)
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or target.pk
    return AuditEntry.objects.create(
        actor_id=None if api_key is not None else getattr(actor, "pk", None),
        actor_api_key_id=getattr(api_key, "pk", None),
        support_admin_id=current_support_admin_id(),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        changes=_jsonable(changes or {}),
    )


def audited_update(
    *,
    instance: models.Model,
    data: dict[str, Any],
    fields: tuple[str, ...],
    acting_user,
    action: str,
    validate_constraints: bool = True,
) -> dict[str, Any]:
    """Apply the ``fields`` of ``data`` that differ, validate, save only those columns and
    record the change. Call inside the service's transaction; returns what changed."""
    changed = {f: data[f] for f in fields if f in data and getattr(instance, f) != data[f]}
    if changed:
        for field, value in changed.items():
            setattr(instance, field, value)
        instance.full_clean(validate_constraints=validate_constraints)
        update_fields = [*changed, "updated"] if hasattr(instance, "updated") else [*changed]
        instance.save(update_fields=update_fields)
        audit_record(actor=acting_user, action=action, target=instance, changes=changed)
    return changed


def audited_delete(*, instance: models.Model, acting_user, action: str, protected: str) -> None:
    """Delete and record it; a row other rows still protect is a 409 with ``protected``."""
    from django.db.models import ProtectedError

    from shared_apps.core.errors import Conflict

    pk, label = instance.pk, instance._meta.label_lower
    try:
        instance.delete()
    except ProtectedError as exc:
        raise Conflict(protected) from exc
    audit_record(actor=acting_user, action=action, object_type=label, object_id=pk)


def audit_log_purge(*, tenant, now=None) -> int:
    """Delete the audit entries of ``tenant`` (the active schema) older than its
    ``audit_log_days`` entitlement; None keeps everything. Returns the rows deleted."""
    from datetime import timedelta

    from django.utils import timezone

    from billing.entitlements import AUDIT_LOG_DAYS, entitlement_value

    days = entitlement_value(tenant, AUDIT_LOG_DAYS)
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = AuditEntry.objects.filter(created__lt=cutoff).delete()
    return deleted
