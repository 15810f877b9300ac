from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django_tenants.models import DomainMixin, TenantMixin


class TenantStatus(models.TextChoices):
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    SUSPENDED = "suspended", "Suspended"
    CANCELED = "canceled", "Canceled"


READ_ONLY_STATUSES = frozenset({TenantStatus.SUSPENDED, TenantStatus.CANCELED})


class Tenant(TenantMixin):
    """A customer organisation's PostgreSQL schema and billing state.

    Schemas are created and dropped by ``tenants.provisioning`` (inside the caller's
    transaction), never implicitly on save.
    """

    name = models.CharField(max_length=200)
    # The name under ROOT_DOMAIN chosen at sign-up; its host is the primary Domain.
    subdomain = models.CharField(max_length=63, unique=True)
    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.PROTECT, related_name="tenant"
    )
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="tenants")
    status = models.CharField(
        max_length=16, choices=TenantStatus.choices, default=TenantStatus.TRIALING, db_index=True
    )
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(schema_name__regex=r"^[a-z][a-z0-9_]{0,62}$"),
                name="tenant_schema_name_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in TenantStatus]),
                name="tenant_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def is_read_only(self) -> bool:
        return self.status in READ_ONLY_STATUSES

    @property
    def email(self) -> str:
        """Billing email (dj-stripe's subscriber contract): the owner's address."""
        owner = (
            self.organization.owner.organization_user.user
            if hasattr(self.organization, "owner")
            else None
        )
        return owner.email if owner else ""


class Domain(DomainMixin):
    """A host name that routes to a tenant: its subdomain or a custom domain."""

    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_primary=True),
                name="domain_one_primary_per_tenant",
            ),
            models.CheckConstraint(
                condition=models.Q(domain=Lower("domain")), name="domain_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class RoutingGeneration(models.Model):
    """One row whose counter a database trigger bumps on any change to tenants or domains.

    Every process caches host→tenant in memory; each request reads this counter in the
    same statement that sets its search_path, so a change made anywhere (admin, shell,
    another worker, raw SQL) invalidates every cache before the next request is served.
    """

    generation = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="routing_generation_singleton")
        ]

    def __str__(self) -> str:
        return f"routing generation {self.generation}"


class SpareSchema(models.Model):
    """A fully migrated, empty tenant schema waiting to be renamed into a new tenant."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_fingerprint = models.CharField(max_length=64, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.schema_name


class TenantEvent(models.Model):
    """Audit trail of platform-level changes to a tenant (provisioning, suspension, ...)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.tenant_id}"


# Background work (tenants.fanout) ------------------------------------------------------------


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
        Tenant, null=True, on_delete=models.SET_NULL, related_name="fanout_items"
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

    @property
    def idempotency_key(self) -> str:
        """A stable key for the outside world too (e.g. Stripe's Idempotency-Key)."""
        return f"{self.run.job}:{self.run.period}:{self.schema_name}"


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
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.job} {self.schema_name} attempt {self.attempt}"
