"""Customers and orders: stock locking, cancel exactly once, summaries computed in SQL."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from shared_apps.core.errors import ValidationFailed
from tenant_apps.catalog.models import Product
from tenant_apps.orders import selectors, services
from tenant_apps.orders.models import Customer, Order, OrderItem
from tests.factories import CustomerFactory, OrderFactory, ProductFactory
from tests.support import bearer_client, error_of


def test_order_create_prices_server_side_and_decrements_stock(in_alpha, alpha):
    anvil = ProductFactory(price=Decimal("49.00"), stock=5)
    rope = ProductFactory(price=Decimal("2.50"), stock=10)
    order = services.order_create(
        customer=CustomerFactory(),
        items=[
            {"product": anvil, "quantity": 2},
            {"product": rope, "quantity": 3},
            {"product": anvil, "quantity": 1},
        ],
        acting_user=alpha.user("member"),
    )
    assert order.total == Decimal("154.50")
    assert {i.product_id: i.quantity for i in order.items.all()} == {anvil.pk: 3, rope.pk: 3}
    anvil.refresh_from_db()
    rope.refresh_from_db()
    assert (anvil.stock, rope.stock) == (2, 7)


def test_insufficient_stock_writes_nothing(in_alpha, alpha):
    plenty = ProductFactory(stock=10)
    scarce = ProductFactory(stock=1)
    with pytest.raises(services.InsufficientStock) as excinfo:
        services.order_create(
            customer=CustomerFactory(),
            items=[{"product": plenty, "quantity": 1}, {"product": scarce, "quantity": 2}],
            acting_user=None,
        )
    assert excinfo.value.fields == {str(scarce.pk): ["Requested 2, 1 in stock."]}
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0
    assert Product.objects.get(pk=plenty.pk).stock == 10


@pytest.mark.parametrize("trait", ["draft", "archived"])
def test_products_not_on_sale_are_refused(in_alpha, trait):
    product = ProductFactory(**{trait: True})
    with pytest.raises(ValidationFailed):
        services.order_create(
            customer=CustomerFactory(),
            items=[{"product": product, "quantity": 1}],
            acting_user=None,
        )


def test_cancel_restores_stock_exactly_once(in_alpha):
    product = ProductFactory(stock=5)
    order = services.order_create(
        customer=CustomerFactory(), items=[{"product": product, "quantity": 4}], acting_user=None
    )
    services.order_cancel(order=order, acting_user=None)
    assert Product.objects.get(pk=product.pk).stock == 5
    with pytest.raises(services.OrderStateConflict):
        services.order_cancel(order=order, acting_user=None)
    assert Product.objects.get(pk=product.pk).stock == 5


def test_payment_and_refund_transitions(in_alpha):
    order = OrderFactory()
    services.order_mark_paid(order=order, acting_user=None)
    with pytest.raises(services.OrderStateConflict):
        services.order_mark_paid(order=order, acting_user=None)
    services.order_refund(order=order, acting_user=None)
    assert Order.objects.get(pk=order.pk).status == "refunded"
    with pytest.raises(services.OrderStateConflict):
        services.order_refund(order=order, acting_user=None)


def test_monthly_order_limit(in_alpha, alpha):
    plan = in_alpha.plan
    plan.max_orders_per_month = 1
    plan.save(update_fields=["max_orders_per_month"])
    product = ProductFactory(stock=5)
    customer = CustomerFactory()
    services.order_create(
        customer=customer, items=[{"product": product, "quantity": 1}], acting_user=None
    )
    from shared_apps.core.errors import PlanLimitExceeded

    with pytest.raises(PlanLimitExceeded):
        services.order_create(
            customer=customer, items=[{"product": product, "quantity": 1}], acting_user=None
        )
    assert Order.objects.count() == 1 and Product.objects.get(pk=product.pk).stock == 4


def test_customer_email_unique_case_insensitively(in_alpha):
    services.customer_create(name="A", email="a@shop.test", acting_user=None)
    with pytest.raises(services.EmailTaken):
        services.customer_create(name="B", email="A@Shop.Test", acting_user=None)


def test_customer_with_orders_cannot_be_deleted(in_alpha):
    order = OrderFactory()
    with pytest.raises(services.Conflict):
        services.customer_delete(customer=order.customer, acting_user=None)


def test_summary_and_monthly_revenue_are_aggregates(in_alpha, django_assert_num_queries):
    customer = CustomerFactory()
    OrderFactory(customer=customer, total=Decimal("10.00"))
    OrderFactory(customer=customer, total=Decimal("30.00"), paid=True)
    OrderFactory(customer=customer, total=Decimal("99.00"), canceled=True)
    OrderFactory(customer=customer, total=Decimal("5.00"), refunded=True)
    with django_assert_num_queries(1):
        summary = selectors.order_summary()
    assert summary == {
        "order_count": 2,
        "revenue": Decimal("40.00"),
        "paid_revenue": Decimal("30.00"),
        "refund_count": 1,
        "canceled_count": 1,
        "average_order_value": Decimal("20.00"),
    }
    with django_assert_num_queries(1):
        months = selectors.order_monthly_revenue(months=12)
    assert len(months) == 1 and months[0]["revenue"] == Decimal("40.00")
    assert months[0]["order_count"] == 2
    row = selectors.customer_list().get(pk=customer.pk)
    assert (row.order_count, row.total_spent) == (2, Decimal("40.00"))


# API -------------------------------------------------------------------------------------------


def test_order_api_flow(in_alpha, alpha):
    product = ProductFactory(price=Decimal("3.00"), stock=4)
    customer = CustomerFactory()
    connection.set_schema_to_public()
    client = bearer_client(alpha, "member")
    created = client.post(
        "/api/v1/orders/",
        {"customer": customer.pk, "items": [{"product": product.pk, "quantity": 3}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    order = created.json()
    assert order["total"] == "9.00" and order["status"] == "placed"
    assert order["items"][0]["product_name"] == product.name
    short = client.post(
        "/api/v1/orders/",
        {"customer": customer.pk, "items": [{"product": product.pk, "quantity": 2}]},
        format="json",
    )
    assert short.status_code == 409
    assert error_of(short)["code"] == "insufficient_stock"
    assert client.post(f"/api/v1/orders/{order['id']}/mark-paid/").json()["status"] == "paid"
    canceled = client.post(f"/api/v1/orders/{order['id']}/cancel/")
    assert canceled.json()["status"] == "canceled"
    again = client.post(f"/api/v1/orders/{order['id']}/cancel/")
    assert again.status_code == 409 and error_of(again)["code"] == "order_state_conflict"
    summary = client.get("/api/v1/orders/summary/").json()
    assert summary["canceled_count"] == 1 and summary["revenue"] == "0.00"
    listed = client.get("/api/v1/orders/?status=canceled").json()["results"]
    assert [o["id"] for o in listed] == [order["id"]] and listed[0]["item_count"] == 1
    assert client.get("/api/v1/orders/monthly-revenue/?months=0").status_code == 400
    assert client.get("/api/v1/orders/monthly-revenue/").status_code == 200


def test_customer_api_annotations(in_alpha, alpha):
    customer = CustomerFactory(name="Zed")
    OrderFactory(customer=customer, total=Decimal("12.50"), paid=True)
    connection.set_schema_to_public()
    client = bearer_client(alpha, "viewer")
    rows = client.get("/api/v1/customers/?search=Zed").json()["results"]
    assert rows == [
        {**rows[0], "name": "Zed", "order_count": 1, "total_spent": "12.50"},
    ]
    member = bearer_client(alpha, "member")
    dup = member.post(
        "/api/v1/customers/", {"name": "Zed 2", "email": customer.email.upper()}, format="json"
    )
    assert dup.status_code == 409 and error_of(dup)["code"] == "customer_email_taken"


def test_empty_and_unknown_items_are_400(in_alpha, alpha):
    customer = CustomerFactory()
    connection.set_schema_to_public()
    client = bearer_client(alpha)
    assert (
        client.post(
            "/api/v1/orders/", {"customer": customer.pk, "items": []}, format="json"
        ).status_code
        == 400
    )
    unknown = client.post(
        "/api/v1/orders/",
        {"customer": customer.pk, "items": [{"product": 999999, "quantity": 1}]},
        format="json",
    )
    assert unknown.status_code == 400 and "items" in error_of(unknown)["fields"]


# Concurrency (real threads, real connections, committed data) -------------------------------


@pytest.mark.django_db(transaction=False)
def test_two_orders_racing_for_the_last_item(alpha, django_db_blocker):
    """Both threads commit their own transactions on their own connections: exactly one
    order gets the last unit and stock never goes negative."""
    from django.db import transaction

    tenant = alpha.tenant
    setup = connections.create_connection("default")
    setup.set_tenant(tenant)
    with setup.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_product"
            " (name, slug, description, price, stock, status, created, updated)"
            " VALUES ('Last one', 'last-one-race', '', 5, 1, 'active', now(), now()) RETURNING id"
        )
        product_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO orders_customer (name, email, created, updated)"
            " VALUES ('Racer', 'racer@race.test', now(), now()) RETURNING id"
        )
        customer_id = cursor.fetchone()[0]
    setup.close()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def place() -> None:
        from django.db import connection as thread_connection

        thread_connection.set_tenant(tenant)
        try:
            barrier.wait()
            with transaction.atomic():
                services.order_create(
                    customer=Customer.objects.get(pk=customer_id),
                    items=[{"product": product_id, "quantity": 1}],
                    acting_user=None,
                )
            outcomes.append("ok")
        except services.InsufficientStock:
            outcomes.append("insufficient_stock")
        finally:
            thread_connection.close()

    try:
        threads = [threading.Thread(target=place) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["insufficient_stock", "ok"]
        check = connections.create_connection("default")
        check.set_tenant(tenant)
        with check.cursor() as cursor:
            cursor.execute("SELECT stock FROM catalog_product WHERE id = %s", [product_id])
            assert cursor.fetchone()[0] == 0
            cursor.execute(
                "SELECT count(*) FROM orders_orderitem WHERE product_id = %s", [product_id]
            )
            assert cursor.fetchone()[0] == 1
        check.close()
    finally:
        cleanup = connections.create_connection("default")
        cleanup.set_tenant(tenant)
        with cleanup.cursor() as cursor:
            cursor.execute("DELETE FROM orders_orderitem WHERE product_id = %s", [product_id])
            cursor.execute("DELETE FROM orders_order WHERE customer_id = %s", [customer_id])
            cursor.execute("DELETE FROM audit_auditentry WHERE action = 'order.created'")
            cursor.execute("DELETE FROM orders_customer WHERE id = %s", [customer_id])
            cursor.execute("DELETE FROM catalog_product WHERE id = %s", [product_id])
        cleanup.close()
