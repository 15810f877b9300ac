"""Demo catalog, customers and orders for `seed_demo` (run inside a tenant's schema)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from tenant_apps.catalog.models import Product, ProductStatus
from tenant_apps.catalog.services import category_create, product_create
from tenant_apps.orders.models import Order
from tenant_apps.orders.services import (
    customer_create,
    order_cancel,
    order_create,
    order_mark_paid,
)

ORDERS = 40
RECENT = 4  # orders left in the current month
MONTHS = 6

CATALOG = {
    "Hardware": [("Anvil", "49.00"), ("Rocket skates", "129.50"), ("Giant magnet", "75.25")],
    "Supplies": [("Bird seed", "4.99"), ("Tightrope", "19.90"), ("Paint, tunnel black", "12.00")],
    "Services": [("Installation", "90.00"), ("Extended warranty", "35.00")],
}
CUSTOMERS = [
    ("Wile E. Coyote", "wile@desert.example"),
    ("Road Runner", "beep@desert.example"),
    ("Elmer Fudd", "elmer@forest.example"),
    ("Daffy Duck", "daffy@pond.example"),
]


def seed_tenant_demo(*, owner, seed: int) -> bool:
    """Fill the active tenant with demo data; does nothing if it already has products."""
    if Product.objects.exists():
        return False
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    products = []
    for category_name, items in CATALOG.items():
        category = category_create(name=category_name, acting_user=owner)
        for name, price in items:
            products.append(
                product_create(
                    name=name,
                    price=Decimal(price),
                    stock=rng.randint(80, 300),
                    status=ProductStatus.ACTIVE,
                    category=category,
                    acting_user=owner,
                )
            )
    customers = [customer_create(name=n, email=e, acting_user=owner) for n, e in CUSTOMERS]
    now = timezone.now()
    for index in range(ORDERS):
        picks = rng.sample(products, k=rng.randint(1, 3))
        order = order_create(
            customer=rng.choice(customers),
            items=[{"product": p, "quantity": rng.randint(1, 3)} for p in picks],
            acting_user=owner,
        )
        if index % 3:
            order_mark_paid(order=order, acting_user=owner)
        elif index % 7 == 0:
            order_cancel(order=order, acting_user=owner)
        # Spread over the last months (oldest first) so the dashboard's revenue chart
        # has a history; the newest few stay as placed, today.
        older = ORDERS - RECENT - index
        if older > 0:
            age = timedelta(days=older * MONTHS * 30 // ORDERS, hours=rng.randint(1, 20))
            Order.objects.filter(pk=order.pk).update(created=now - age)
    return True
