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
