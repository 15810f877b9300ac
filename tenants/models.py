from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower, Upper
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
        # django-tenants checks a new tenant's schema name case-insensitively
        # (``schema_name__iexact``, ``UPPER(schema_name)``) before every insert: without
        # this index that is a scan of every tenant on each sign-up.
        indexes = [models.Index(Upper("schema_name"), name="tenant_schema_name_upper")]

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


class TenantEventAction(StrEnum):
    """The ``action`` of a ``TenantEvent`` (the tenant audit log's are
    ``tenant_apps.audit.actions.AuditAction``)."""

    TENANT_PROVISIONED = "tenant.provisioned"
    TENANT_STATUS_CHANGED = "tenant.status_changed"
    DATA_EXPORT_REQUESTED = "data_export.requested"
    DELETION_SCHEDULED = "deletion.scheduled"
    DELETION_CANCELED = "deletion.canceled"


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
