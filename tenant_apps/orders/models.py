from django.db import models
from django.db.models.functions import Lower


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField()
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_ci_unique"),
        ]
        indexes = [models.Index(fields=["-created", "-id"])]

    def __str__(self) -> str:
        return self.name


class OrderStatus(models.TextChoices):
    PLACED = "placed", "Placed"
    PAID = "paid", "Paid"
    CANCELED = "canceled", "Canceled"
    REFUNDED = "refunded", "Refunded"


# Orders that count as revenue (not canceled, not refunded).
REVENUE_STATUSES = (OrderStatus.PLACED, OrderStatus.PAID)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLACED
    )
    total = models.DecimalField(max_digits=14, decimal_places=2)
    notes = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in OrderStatus]),
                name="order_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created"]),
            models.Index(fields=["customer", "-created"]),
            models.Index(fields=["-created", "-id"]),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk}"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="order_items"
    )
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    line_total = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="order_item_quantity_gt_0"
            ),
            models.UniqueConstraint(fields=["order", "product"], name="order_item_unique_product"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"
