"""API keys and outgoing webhooks, in each tenant's own schema (ADRs 0020, 0021).

Every table here lives in the tenant's schema (a TENANT_APP): a key or an endpoint of
one tenant is not a row another tenant's queries could reach, whatever they filter on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from shared_apps.organizations.roles import Role


class ApiKeyRole(models.TextChoices):
    """The roles a key can carry: never owner (billing and ownership stay with people)."""

    ADMIN = Role.ADMIN.value, Role.ADMIN.label
    MEMBER = Role.MEMBER.value, Role.MEMBER.label
    VIEWER = Role.VIEWER.value, Role.VIEWER.label


class ApiKeyManager(BaseAPIKeyManager):
    """djangorestframework-api-key's generation, hashing and lookup, with an integer
    primary key (the library's is ``prefix.hash``, which would put a hash in URLs)."""

    def assign_key(self, obj: AbstractAPIKey) -> str:
        key, prefix, hashed_key = self.key_generator.generate()
        obj.prefix = prefix
        obj.hashed_key = hashed_key
        return key


class ApiKey(AbstractAPIKey):
    """A credential for one of the tenant's own systems, acting with ``role``.

    Only the SHA-512 of the key is stored (the library's hasher for high-entropy keys);
    ``prefix`` (8 characters, unique in this schema) finds the row and is shown in lists.
    """

    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]
    role = models.CharField(max_length=16, choices=ApiKeyRole.choices)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The person who made it (public-schema user: no constraint, see AuditEntry.actor),
    # or the key that made it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_by_key = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiKeyManager()  # type: ignore[assignment,misc]

    class Meta(AbstractAPIKey.Meta):
        ordering = ("-created", "-id")  # type: ignore[assignment]
        verbose_name = "API key"


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    # whsec_<base64 of 32 random bytes>; the previous one keeps signing (and so
    # verifying) until previous_secret_expires_at after a rotation.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """The outbox: one row per event, written in the transaction of the change."""

    public_id = models.CharField(max_length=40, unique=True)  # evt_...
    type = models.CharField(max_length=64)
    payload = models.JSONField()  # the whole body sent, {"id", "type", ...}
    # The endpoints subscribed when it happened; their deliveries are created by the
    # dispatch task after commit (dispatched_at set), or by the sweeper if that was lost.
    endpoint_ids = models.JSONField(default=list)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(dispatched_at__isnull=True),
                name="webhook_event_undispatched",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (retries exhausted or endpoint disabled)"


class WebhookDelivery(models.Model):
    """One event for one endpoint: retried until it succeeds or the schedule runs out."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds a delivery until this time while it sends it; a worker killed
    # mid-send leaves the lease to run out, and the sweeper hands the delivery on.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "id"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_pending",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery (the delivery log)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True)  # the first KiB, for the log
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
