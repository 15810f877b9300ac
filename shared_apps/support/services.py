"""Support access: start (root domain admin), redeem (tenant host), check, end (ADR 0024).

The hand-off from the admin on the root domain to the tenant's host is a signed token
(``django.core.signing``, salted, naming the tenant and the ``SupportSession``), valid
``SUPPORT_ACCESS_HANDOFF_SECONDS`` and single use: redeeming moves the row from
``pending`` to ``active`` under a row lock. Every rule is checked when the admin starts
*and again* when the token is redeemed, and the row is re-read on every request of the
session (``support_session_check``), so revoking anything takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.core.errors import (
    InvalidToken,
    SupportAccessEnded,
    SupportDisabledByTenant,
    SupportPermissionRequired,
    SupportReasonRequired,
    SupportRefused,
    SupportTargetNotAllowed,
    SupportTenantUnavailable,
)
from shared_apps.organizations.selectors import membership_for
from shared_apps.support import context as support_context
from shared_apps.support.models import (
    OPEN_STATUSES,
    SUPPORT_PERMISSION,
    SupportSession,
    SupportSessionStatus,
)
from tenant_apps.audit.actions import AuditAction
from tenants.models import Tenant

logger = logging.getLogger("tessera.support")

HANDOFF_SALT = "tessera.support.handoff"
MAX_REASON_LENGTH = 1000


class EndReason:
    ENDED = "ended"  # the admin pressed "End support access"
    LOGOUT = "logout"  # signed out (web or API)
    EXPIRED = "expired"  # SUPPORT_ACCESS_MINUTES passed
    DISABLED_BY_TENANT = "disabled_by_tenant"
    REVOKED = "revoked"  # the admin lost the permission or was deactivated
    MEMBER_GONE = "member_gone"  # the member left, was deactivated or became staff
    TENANT_UNAVAILABLE = "tenant_unavailable"


@dataclass(frozen=True)
class SupportContext:
    """What a request of a support session knows about it (``request.support_access``)."""

    session_id: int
    uuid: str
    admin_id: int
    admin_email: str
    member_id: int
    member_email: str
    allow_writes: bool
    reason: str
    expires_at: dt.datetime

    @property
    def actor_label(self) -> str:
        return f"support {self.admin_email} as {self.member_email}"

    @property
    def mode(self) -> str:
        return "writes allowed" if self.allow_writes else "read-only"


def context_of(session: SupportSession) -> SupportContext:
    # Checked by the caller (a row whose admin or member account is gone is refused).
    assert session.admin_id is not None and session.member_id is not None
    return SupportContext(
        session_id=session.pk,
        uuid=str(session.uuid),
        admin_id=session.admin_id,
        admin_email=session.admin_email,
        member_id=session.member_id,
        member_email=session.member_email,
        allow_writes=session.allow_writes,
        reason=session.reason,
        expires_at=session.expires_at,
    )


# Policy (the tenant's switch) -----------------------------------------------------------


def support_access_allowed(*, tenant: Tenant) -> bool:
    """The tenant's owners allow support access (the default: no policy row, allowed)."""
    from shared_apps.accounts.models import TenantSecurityPolicy

    value = (
        TenantSecurityPolicy.objects.for_tenant(tenant)
        .values_list("support_access_allowed", flat=True)
        .first()
    )
    return True if value is None else bool(value)


@transaction.atomic
def support_policy_set(*, tenant: Tenant, allowed: bool, acting_user) -> bool:
    """Owners turn support access on or off; turning it off ends open sessions. Returns
    whether anything changed. Call on the tenant's host (the audit log is its schema's)."""
    from shared_apps.accounts.models import TenantSecurityPolicy
    from tenant_apps.audit.services import audit_record

    policy, _ = TenantSecurityPolicy.objects.for_tenant(tenant).get_or_create(tenant=tenant)
    if policy.support_access_allowed == allowed:
        return False
    policy.support_access_allowed = allowed
    policy.save(update_fields=["support_access_allowed", "updated"])
    audit_record(
        acting_user=acting_user,
        action=AuditAction.SUPPORT_POLICY_CHANGED,
        object_type="tenant",
        object_id=tenant.pk,
        changes={"support_access_allowed": allowed},
    )
    if not allowed:
        for session in SupportSession.objects.for_tenant(tenant).filter(status__in=OPEN_STATUSES):
            _close(session, status=SupportSessionStatus.ENDED, reason=EndReason.DISABLED_BY_TENANT)
    return True


# Checks ---------------------------------------------------------------------------------


def admin_may_support(admin) -> bool:
    return bool(
        admin is not None
        and admin.is_active
        and admin.is_staff
        and admin.has_perm(SUPPORT_PERMISSION)
    )


def _tenant_unavailable(tenant: Tenant) -> bool:
    """Being purged (its deletion's grace period is over). Suspended and canceled tenants
    stay reachable: read-only like for their members (writes answer 402)."""
    from tenants.data.models import DeletionStatus, TenantDeletionRequest

    return (
        TenantDeletionRequest.objects.for_tenant(tenant)
        .filter(status=DeletionStatus.PURGING)
        .exists()
    )


def _check(*, tenant: Tenant, admin, member) -> None:
    """Raise the first reason support access may not (go on)."""
    if not admin_may_support(admin):
        raise SupportPermissionRequired()
    if _tenant_unavailable(tenant):
        raise SupportTenantUnavailable()
    if not support_access_allowed(tenant=tenant):
        raise SupportDisabledByTenant()
    if (
        member is None
        or not member.is_active
        or member.is_staff
        or member.is_superuser
        or member.pk == admin.pk
        or membership_for(user_id=member.pk, tenant=tenant) is None
    ):
        raise SupportTargetNotAllowed()


def _audit_in(tenant: Tenant, **entry: Any) -> None:
    """An audit entry in the tenant's schema, from wherever the connection is."""
    from tenant_apps.audit.services import audit_record

    with tenant_context(tenant):
        audit_record(**entry)


def _record_refusal(*, tenant: Tenant, admin, member_email: str, exc: SupportRefused) -> None:
    logger.warning(
        "support access refused: %s",
        exc.code,
        extra={"support_tenant": tenant.schema_name, "support_admin": getattr(admin, "pk", None)},
    )
    token = support_context.support_admin_id.set(getattr(admin, "pk", None))
    try:
        _audit_in(
            tenant,
            acting_user=None,
            action=AuditAction.SUPPORT_REFUSED,
            object_type="support_session",
            object_id="",
            changes={
                "code": exc.code,
                "admin": getattr(admin, "email", ""),
                "member": member_email,
            },
        )
    finally:
        support_context.support_admin_id.reset(token)


# Start (platform admin, root domain) ------------------------------------------------------


def support_access_start(
    *, tenant: Tenant, admin, member_id: int | None, allow_writes: bool, reason: str
) -> tuple[SupportSession, str]:
    """Start support access as ``member_id``: the pending row and its hand-off token.

    Refusals raise a ``SupportRefused`` (nothing started) and are recorded in the
    tenant's audit log when the admin may do support at all.
    """
    from shared_apps.accounts.models import User

    reason = (reason or "").strip()[:MAX_REASON_LENGTH]
    member = User.objects.filter(pk=member_id).first() if member_id else None
    try:
        if allow_writes and not reason:
            raise SupportReasonRequired()
        _check(tenant=tenant, admin=admin, member=member)
    except SupportRefused as exc:
        if admin_may_support(admin) and not isinstance(exc, SupportReasonRequired):
            _record_refusal(
                tenant=tenant,
                admin=admin,
                member_email=getattr(member, "email", ""),
                exc=exc,
            )
        raise
    assert member is not None  # _check refused a missing member
    now = timezone.now()
    with transaction.atomic():
        session = SupportSession.objects.create(
            tenant=tenant,
            admin=admin,
            member=member,
            admin_email=admin.email,
            member_email=member.email,
            allow_writes=allow_writes,
            reason=reason,
            redeem_by=now + dt.timedelta(seconds=settings.SUPPORT_ACCESS_HANDOFF_SECONDS),
            expires_at=now + dt.timedelta(minutes=settings.SUPPORT_ACCESS_MINUTES),
        )
        token = support_context.support_admin_id.set(admin.pk)
        try:
            _audit_in(
                tenant,
                acting_user=member,
                action=AuditAction.SUPPORT_STARTED,
                target=None,
                object_type="support_session",
                object_id=session.pk,
                changes={
                    "admin": admin.email,
                    "member": member.email,
                    "allow_writes": allow_writes,
                    "reason": reason,
                    "expires_at": session.expires_at,
                },
            )
        finally:
            support_context.support_admin_id.reset(token)
    logger.info(
        "support access started",
        extra={
            "support_session": session.pk,
            "support_admin_id": admin.pk,
            "support_tenant": tenant.schema_name,
            "member_id": member.pk,
            "allow_writes": allow_writes,
        },
    )
    handoff = signing.dumps({"s": str(session.uuid), "t": tenant.pk}, salt=HANDOFF_SALT)
    return session, handoff


# Redeem (tenant host) ---------------------------------------------------------------------


def _handoff_session(*, tenant: Tenant, token: str) -> SupportSession:
    try:
        payload = signing.loads(
            token, salt=HANDOFF_SALT, max_age=settings.SUPPORT_ACCESS_HANDOFF_SECONDS
        )
    except (signing.BadSignature, TypeError, ValueError) as exc:
        raise InvalidToken() from exc
    if not isinstance(payload, dict) or payload.get("t") != tenant.pk:
        raise InvalidToken()  # another tenant's token: nothing of it exists here
    session = (
        SupportSession.objects.for_tenant(tenant)
        .select_related("admin", "member")
        .filter(uuid=str(payload.get("s", "")), status=SupportSessionStatus.PENDING)
        .first()
    )
    if session is None or timezone.now() >= session.redeem_by:
        raise InvalidToken()
    return session


def support_handoff_peek(*, tenant: Tenant, token: str) -> SupportSession:
    """The pending session a token names (for the confirmation page); consumes nothing."""
    return _handoff_session(tenant=tenant, token=token)


def support_access_redeem(*, tenant: Tenant, token: str) -> SupportSession:
    """Redeem the hand-off token on the tenant's host: the session becomes active.
    ``InvalidToken`` for an unknown, used, expired or other tenant's token; a
    ``SupportRefused`` when a rule no longer holds (the row is then closed)."""
    pending = _handoff_session(tenant=tenant, token=token)
    refused: Exception | None = None
    with transaction.atomic():
        session = (
            SupportSession.objects.for_tenant(tenant)
            .select_for_update(of=("self",))
            .select_related("admin", "member")
            .filter(pk=pending.pk, status=SupportSessionStatus.PENDING)
            .first()
        )
        if session is None:  # redeemed concurrently
            raise InvalidToken()
        try:
            _check(tenant=tenant, admin=session.admin, member=session.member)
        except SupportRefused as exc:
            _close(session, status=SupportSessionStatus.ENDED, reason=EndReason.REVOKED)
            refused = exc
        else:
            if timezone.now() >= session.expires_at:
                _close(session, status=SupportSessionStatus.EXPIRED, reason=EndReason.EXPIRED)
                refused = InvalidToken()
            else:
                session.status = SupportSessionStatus.ACTIVE
                session.redeemed_at = timezone.now()
                session.save(update_fields=["status", "redeemed_at"])
    # Raised once the closed row is committed (inside the block it was rolled back).
    if refused is not None:
        raise refused
    return session


# During the session (tenant host) -------------------------------------------------------------


def support_session_check(
    *, tenant: Tenant, session_uuid: str, user_id: Any
) -> tuple[SupportContext, Any]:
    """The active support session of this request, or ``SupportAccessEnded`` (the row is
    closed with the reason when a rule stopped holding: time, the tenant's switch, the
    admin's permission, the member). Returns the context and the member (loaded)."""
    session = (
        SupportSession.objects.for_tenant(tenant)
        .select_related("admin", "member")
        .filter(uuid=session_uuid)
        .first()
        if session_uuid
        else None
    )
    if session is None or session.status != SupportSessionStatus.ACTIVE:
        raise SupportAccessEnded()
    if str(session.member_id) != str(user_id):
        support_access_end(session=session, reason=EndReason.REVOKED)
        raise SupportAccessEnded()
    if timezone.now() >= session.expires_at:
        support_access_end(session=session, reason=EndReason.EXPIRED)
        raise SupportAccessEnded("Support access reached its time limit and has ended.")
    try:
        _check(tenant=tenant, admin=session.admin, member=session.member)
    except SupportRefused as exc:
        reason = {
            SupportDisabledByTenant: EndReason.DISABLED_BY_TENANT,
            SupportPermissionRequired: EndReason.REVOKED,
            SupportTenantUnavailable: EndReason.TENANT_UNAVAILABLE,
        }.get(type(exc), EndReason.MEMBER_GONE)
        support_access_end(session=session, reason=reason)
        raise SupportAccessEnded(f"Support access has ended: {exc.message}") from exc
    return context_of(session), session.member


def support_sessions_close_overdue(*, tenant: Tenant) -> int:
    """Close the tenant's sessions past their bound that no request closed (the browser
    went away): pending hand-offs never redeemed, active sessions past the time limit."""
    now = timezone.now()
    overdue = SupportSession.objects.for_tenant(tenant).filter(
        models.Q(status=SupportSessionStatus.PENDING, redeem_by__lte=now)
        | models.Q(status=SupportSessionStatus.ACTIVE, expires_at__lte=now)
    )
    return sum(support_access_end(session=s, reason=EndReason.EXPIRED) for s in overdue)


def _close(session: SupportSession, *, status: str, reason: str) -> None:
    session.status = status
    session.ended_at = timezone.now()
    session.end_reason = reason
    session.save(update_fields=["status", "ended_at", "end_reason"])
    token = support_context.support_admin_id.set(session.admin_id)
    try:
        _audit_in(
            session.tenant,
            acting_user=session.member,
            action=AuditAction.SUPPORT_ENDED,
            object_type="support_session",
            object_id=session.pk,
            changes={
                "admin": session.admin_email,
                "member": session.member_email,
                "reason": reason,
            },
        )
    finally:
        support_context.support_admin_id.reset(token)
    logger.info(
        "support access ended: %s",
        reason,
        extra={"support_session": session.pk, "support_admin_id": session.admin_id},
    )


@transaction.atomic
def support_access_end(*, session: SupportSession, reason: str = EndReason.ENDED) -> bool:
    """Close an open session (idempotent: False when it was already closed)."""
    locked = (
        SupportSession.objects.for_tenant(session.tenant)
        .select_for_update()
        .filter(pk=session.pk, status__in=OPEN_STATUSES)
        .first()
    )
    if locked is None:
        return False
    status = (
        SupportSessionStatus.EXPIRED if reason == EndReason.EXPIRED else SupportSessionStatus.ENDED
    )
    _close(locked, status=status, reason=reason)
    return True


def support_access_end_by_uuid(*, tenant: Tenant, session_uuid: str, reason: str) -> bool:
    session = SupportSession.objects.for_tenant(tenant).filter(uuid=session_uuid).first()
    return support_access_end(session=session, reason=reason) if session is not None else False


def support_write_record(*, support: SupportContext, method: str, path: str, status: int) -> None:
    """Every write of a support session with writes allowed, in the tenant's audit log
    (the services' own entries carry the admin too)."""
    from tenant_apps.audit.services import audit_record

    audit_record(
        acting_user=_user(support.member_id),
        action=AuditAction.SUPPORT_WRITE,
        object_type="support_session",
        object_id=support.session_id,
        changes={"method": method, "path": path, "status": status, "reason": support.reason},
    )


def _user(pk: int):
    from shared_apps.accounts.models import User

    return User(pk=pk)
