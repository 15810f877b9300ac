from django.db import models

from tenants.scoping import TenantOwned, TenantOwnedManager


class Plan(models.Model):
    """A price list entry. Limits are enforced by the tenant apps' services; None = unlimited."""

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
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


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

    objects = TenantOwnedManager()

    def __str__(self) -> str:
        return f"billing for {self.tenant_id}"


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
