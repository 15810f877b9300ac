"""tenant_apps/orders/services.py: the refusals the API tests do not reach, customer
updates, and the insert that loses a race for an email."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connections, transaction

from shared_apps.core.errors import ValidationFailed
from tenant_apps.audit.models import AuditEntry
from tenant_apps.orders.models import Customer, Order
from tenant_apps.orders.services import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_TOTAL,
    EmailTaken,
    customer_create,
    customer_update,
    order_create,
)
from tests.factories import CustomerFactory, ProductFactory


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


def test_a_customer_update_lowercases_the_email_and_is_audited(in_alpha, alpha):
    grace = CustomerFactory(name="Grace", email="grace@shop.test")
    customer_update(
        customer=grace,
        data={"name": "Grace H.", "email": "Grace.H@Shop.test"},
        acting_user=alpha.user("owner"),
    )
    grace.refresh_from_db()
    assert (grace.name, grace.email) == ("Grace H.", "grace.h@shop.test")
    entry = AuditEntry.objects.get(action="customer.updated")
    assert entry.changes == {"name": "Grace H.", "email": "grace.h@shop.test"}
    customer_update(customer=grace, data={"name": "Grace H."}, acting_user=alpha.user("owner"))
    assert AuditEntry.objects.filter(action="customer.updated").count() == 1  # unchanged


def test_a_customer_insert_that_loses_the_race_for_its_email_is_a_409(in_alpha, alpha):
    """Another transaction inserts the same email after this one's check: the unique
    index makes this insert wait, then fail; the service answers EmailTaken, not a 500."""
    tenant = in_alpha
    inserted, go_on = threading.Event(), threading.Event()

    def rival() -> None:
        from django.db import connection

        try:
            connection.set_tenant(tenant)
            with transaction.atomic():
                Customer.objects.create(name="Rival", email="race@shop.test")
                inserted.set()
                go_on.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=rival)
    thread.start()
    try:
        assert inserted.wait(timeout=10)
        threading.Timer(0.5, go_on.set).start()  # commit while our insert waits on it
        with pytest.raises(EmailTaken) as refused:
            customer_create(name="Us", email="Race@shop.test", acting_user=alpha.user("owner"))
        assert refused.value.fields == {"email": [EmailTaken.message]}
        assert not AuditEntry.objects.filter(action="customer.created").exists()
    finally:
        go_on.set()
        thread.join(timeout=10)
        cleanup = connections.create_connection("default")
        with cleanup.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {tenant.schema_name}.orders_customer WHERE email = %s",
                ["race@shop.test"],
            )
        cleanup.close()


def test_an_order_line_above_the_quantity_cap_is_refused(in_alpha, alpha):
    bulk = ProductFactory(price=Decimal("0.01"), stock=MAX_LINE_QUANTITY + 5)
    with pytest.raises(ValidationFailed) as refused:
        order_create(
            customer=CustomerFactory(),
            items=[{"product": bulk.pk, "quantity": MAX_LINE_QUANTITY + 1}],
            acting_user=alpha.user("owner"),
        )
    assert refused.value.fields == {"items": [f"At most {MAX_LINE_QUANTITY} of product {bulk.pk}."]}
    assert not Order.objects.exists()


def test_an_order_total_above_the_cap_is_refused(in_alpha, alpha):
    dear = ProductFactory(price=Decimal("9999999999.99"), stock=1000)
    with pytest.raises(ValidationFailed) as refused:
        order_create(
            customer=CustomerFactory(),
            items=[{"product": dear.pk, "quantity": 101}],
            acting_user=alpha.user("owner"),
        )
    assert refused.value.fields == {"items": [f"An order total may not exceed {MAX_ORDER_TOTAL}."]}
    assert not Order.objects.exists()
    dear.refresh_from_db()
    assert dear.stock == 1000
