"""The records of background work over tenants: fan-out runs, items and failures.

Their tables were created by the ``tenants`` app and keep their names (ADR 0027).
"""

from __future__ import annotations

from django.db import models


class FanoutItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # recorded, not yet sent to the broker
    QUEUED = "queued", "Queued"
    RETRYING = "retrying", "Retrying"  # failed, a retry is scheduled
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # gave up after the last retry
    SKIPPED = "skipped", "Skipped"  # tenant gone or read-only when the task ran


OPEN_FANOUT_STATUSES = frozenset(
    {FanoutItemStatus.PENDING, FanoutItemStatus.QUEUED, FanoutItemStatus.RETRYING}
)


class FanoutRun(models.Model):
    """One dispatch of a periodic job over every live tenant, for one period.

    ``(job, period)`` is unique: a second dispatcher for the same period (an overlapping
    beat, a retry by hand) finds this run instead of sending the work twice.
    """

    job = models.CharField(max_length=100)
    period = models.CharField(max_length=40)
    task_name = models.CharField(max_length=200)
    # Keyword arguments every tenant's task received (besides ``period``); kept so that
    # failed tenants can be retried later from the admin with the same input.
    task_kwargs = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    tenant_count = models.PositiveIntegerField(default=0)
    dispatcher = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "tenants_fanoutrun"  # created by the tenants app (ADR 0027)
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "period"], name="fanout_run_once_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.period}"


class FanoutItem(models.Model):
    """One tenant's share of a run; its id is the idempotency key (tenant, job, period).

    The worker locks this row in the same transaction as the task's own writes and
    marks it succeeded there, so a redelivered message finds it done and does nothing.
    """

    run = models.ForeignKey(FanoutRun, on_delete=models.CASCADE, related_name="items")
    # Kept after the tenant is deleted, so the history still says whose work it was.
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, on_delete=models.SET_NULL, related_name="fanout_items"
    )
    schema_name = models.CharField(max_length=63)
    status = models.CharField(
        max_length=16, choices=FanoutItemStatus.choices, default=FanoutItemStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tenants_fanoutitem"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "schema_name"], name="fanout_item_per_tenant"),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in FanoutItemStatus]),
                name="fanout_item_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["run", "status"], name="fanout_item_run_status")]

    def __str__(self) -> str:
        return f"{self.run} {self.schema_name}: {self.status}"


class FanoutFailure(models.Model):
    """One failed attempt of a tenant's share of a run: which tenant, which job, the error."""

    item = models.ForeignKey(FanoutItem, on_delete=models.CASCADE, related_name="failures")
    run = models.ForeignKey(FanoutRun, on_delete=models.CASCADE, related_name="failures")
    schema_name = models.CharField(max_length=63)
    job = models.CharField(max_length=100)
    attempt = models.PositiveIntegerField()
    error = models.TextField()
    traceback = models.TextField(blank=True)
    will_retry = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "tenants_fanoutfailure"
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.job} {self.schema_name} attempt {self.attempt}"
