from django.conf import settings
from django.db import models

from tenants.scoping import TenantOwned, TenantOwnedManager


class PlanPricing(models.TextChoices):
    FLAT = "flat", "Flat price a month"
    PER_SEAT = "per_seat", "Price per billable member a month"


class Plan(models.Model):
    """A price list entry. Limits are enforced by the tenant apps' services; None = unlimited.

    What a plan includes (its limits, ``features`` and ``audit_log_days``) is read through
    ``billing.entitlements.tenant_entitlements`` only, which adds per-tenant overrides.
    A ``per_seat`` plan's ``monthly_price_cents`` is the price of one seat, and its Stripe
    subscription quantity follows the tenant's billable members (``billing.seats``).
    """

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=80)
    stripe_price_id = models.CharField(max_length=255, blank=True)
    monthly_price_cents = models.PositiveIntegerField(default=0)
    max_members = models.PositiveIntegerField(null=True, blank=True)
    max_products = models.PositiveIntegerField(null=True, blank=True)
    max_orders_per_month = models.PositiveIntegerField(null=True, blank=True)
    is_public = models.BooleanField(default=True, help_text="Offered on the sign-up form")
    # Feature codes the plan includes (billing.entitlements.Feature); checked by
    # billing.entitlements.require_feature.
    features = models.JSONField(default=list, blank=True)
    pricing = models.CharField(
        max_length=16,
        choices=PlanPricing.choices,
        default=PlanPricing.FLAT,
        db_default=PlanPricing.FLAT,
    )
    # Days of audit log kept (purged daily by billing.tasks.purge_audit_log); None = forever.
    audit_log_days = models.PositiveIntegerField(null=True, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_per_seat(self) -> bool:
        return self.pricing == PlanPricing.PER_SEAT


class BillingAccount(TenantOwned, models.Model):
    """A tenant's link to Stripe and the latest subscription state synced from it."""

    tenant_owner = "tenant"

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="billing_account"
    )
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    subscription_status = models.CharField(max_length=32, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # Seats (per-seat plans, billing.seats). ``seat_sequence`` grows by one with every
    # change of the billable member count; the Stripe write for change N carries an
    # idempotency key derived from (tenant, N), and ``seats_pushed_sequence`` is the last
    # N Stripe confirmed. ``seats_paid`` is the subscription item's quantity as last seen
    # from Stripe at ``seats_observed_at`` (never replaced by an older observation).
    # Database defaults: code that inserts rows without these columns keeps working.
    stripe_subscription_item_id = models.CharField(max_length=255, blank=True, db_default="")
    seats_desired = models.PositiveIntegerField(default=0, db_default=0)
    seat_sequence = models.PositiveIntegerField(default=0, db_default=0)
    seats_pushed_sequence = models.PositiveIntegerField(default=0, db_default=0)
    seats_paid = models.PositiveIntegerField(null=True, blank=True)
    seats_observed_at = models.DateTimeField(null=True, blank=True)
    seats_last_error = models.TextField(blank=True, db_default="")

    objects = TenantOwnedManager()

    def __str__(self) -> str:
        return f"billing for {self.tenant_id}"


class TenantEntitlementOverride(TenantOwned, models.Model):
    """A deal: one tenant gets more (or less) of one entitlement than its plan says.

    ``key`` is a feature (``enabled`` applies) or a numeric entitlement (a limit or
    ``audit_log_days``; ``value`` applies, empty = unlimited). Past ``expires_at`` the
    plan applies again. Edited by platform admins in the Django admin.
    """

    tenant_owner = "tenant"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="entitlement_overrides"
    )
    key = models.CharField(max_length=32)
    enabled = models.BooleanField(
        default=True, help_text="Features: whether the tenant has it (ignored for limits)."
    )
    value = models.PositiveIntegerField(
        null=True, blank=True, help_text="Limits and audit log days: the value; empty = unlimited."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, help_text="Why (the deal, the ticket).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    objects = TenantOwnedManager()

    class Meta:
        ordering = ["tenant_id", "key"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="entitlement_override_once")
        ]

    def __str__(self) -> str:
        return f"{self.key} for {self.tenant_id}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from billing.entitlements import ENTITLEMENT_KEYS

        if self.key not in ENTITLEMENT_KEYS:
            raise ValidationError({"key": f"One of: {', '.join(sorted(ENTITLEMENT_KEYS))}."})


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (will be retried)"
    IGNORED = "ignored", "Ignored (type not handled)"


class WebhookEvent(models.Model):
    """Every Stripe event received, stored raw before anything is done with it.

    ``stripe_id`` is unique: a redelivery (or a concurrent duplicate) of a processed
    event is acknowledged without doing anything twice.
    """

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16,
        choices=WebhookEventStatus.choices,
        default=WebhookEventStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


class UsageReport(TenantOwned, models.Model):
    """One usage figure reported to Stripe for one tenant and period, exactly once."""

    tenant_owner = "tenant"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=32)
    quantity = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=255, unique=True)
    reported_at = models.DateTimeField(auto_now_add=True)

    objects = TenantOwnedManager()

    class Meta:
        ordering = ["-reported_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period"], name="usage_report_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.period}: {self.quantity}"
