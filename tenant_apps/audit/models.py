from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """Who did what to which object, in the tenant's own schema. Written by services,
    in the same transaction as the change it records."""

    # Users live in the public schema and outlive nothing here: no database constraint and
    # no cascade, so deleting a user (from any schema) never reaches into tenant tables and
    # the trail keeps the actor's id.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Set instead of ``actor`` when one of the tenant's API keys made the change.
    actor_api_key = models.ForeignKey(
        "integrations.ApiKey",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The platform admin behind the change when it was made in support access (ADR 0024):
    # ``actor`` is then the member the admin acted as.
    support_admin = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["-created", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"

    @property
    def actor_label(self) -> str:
        """Who, in words: an email, an API key, "support <admin> as <member>", "system"."""
        member = self.actor.email if self.actor_id and self.actor else ""
        if self.support_admin_id:
            admin = self.support_admin.email if self.support_admin else str(self.support_admin_id)
            return f"support {admin} as {member}" if member else f"support {admin}"
        if member:
            return member
        if self.actor_api_key_id and self.actor_api_key:
            return f"API key {self.actor_api_key.name}"
        return "system"
