"""Support access (ADR 0024): a platform admin acting as one tenant member for a while.

One ``SupportSession`` row per start (public schema, belongs to its tenant). It is
created in the platform admin on the root domain with a single-use hand-off token, then
*redeemed* on the tenant's own host, where the browser gets a session in the tenant's
schema as the member, marked as support access. The row, not the session, is the truth:
every request of that session re-reads it, so ending, expiry and the tenant's switch take
effect at once.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from tenants.scoping import TenantOwned, TenantOwnedManager

# The custom permission (superusers have every permission).
SUPPORT_PERMISSION = "support.support"


class SupportSessionStatus(models.TextChoices):
    PENDING = "pending", "Pending (hand-off not redeemed yet)"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    EXPIRED = "expired", "Expired"


OPEN_STATUSES = frozenset({SupportSessionStatus.PENDING, SupportSessionStatus.ACTIVE})


class SupportSession(TenantOwned, models.Model):
    tenant_owner = "tenant"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    # SET_NULL: deleting an account never fails on its support history (the emails stay).
    admin = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as typed: the trail must still read right if either address changes later.
    admin_email = models.EmailField()
    member_email = models.EmailField()
    allow_writes = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=SupportSessionStatus.choices, default=SupportSessionStatus.PENDING
    )
    created = models.DateTimeField(auto_now_add=True)
    # The hand-off token is refused after this (seconds, SUPPORT_ACCESS_HANDOFF_SECONDS).
    redeem_by = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # The bound: SUPPORT_ACCESS_MINUTES from the start in the admin.
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)

    objects = TenantOwnedManager()

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [("support", "Can start support access as a tenant member")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in SupportSessionStatus]),
                name="support_session_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(allow_writes=True, reason=""),
                name="support_session_writes_need_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"support {self.admin_email} as {self.member_email} ({self.status})"

    @property
    def actor_label(self) -> str:
        return f"support {self.admin_email} as {self.member_email}"
