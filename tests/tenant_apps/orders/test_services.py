"""tenant_apps/orders/services.py: the refusals the API tests do not reach."""

from __future__ import annotations

import pytest

from shared_apps.core.errors import ValidationFailed
from tenant_apps.orders.models import Customer, Order
from tenant_apps.orders.services import EmailTaken, customer_update, order_create
from tests.factories import CustomerFactory


def test_a_customer_cannot_take_another_customers_email(in_alpha, alpha):
    CustomerFactory(email="ada@shop.test")
    grace = CustomerFactory(email="grace@shop.test")
    with pytest.raises(EmailTaken) as refused:
        customer_update(
            customer=grace, data={"email": "ADA@shop.test"}, acting_user=alpha.user("owner")
        )
    assert refused.value.fields == {"email": ["A customer with this email already exists."]}
    assert Customer.objects.get(pk=grace.pk).email == "grace@shop.test"


def test_an_order_needs_items(in_alpha, alpha):
    with pytest.raises(ValidationFailed) as refused:
        order_create(customer=CustomerFactory(), items=[], acting_user=alpha.user("owner"))
    assert refused.value.fields == {"items": ["An order needs at least one item."]}
    assert not Order.objects.exists()


def test_an_order_of_unknown_products_names_them(in_alpha, alpha):
    with pytest.raises(ValidationFailed) as refused:
        order_create(
            customer=CustomerFactory(),
            items=[{"product": 999998, "quantity": 1}, {"product": 999999, "quantity": 2}],
            acting_user=alpha.user("owner"),
        )
    assert refused.value.fields == {"items": ["Unknown product 999998.", "Unknown product 999999."]}
    assert not Order.objects.exists()
