from django.db import models


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
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name
