"""Customer and order pages (tenant_apps/orders/pages.py) and export pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from tenant_apps.audit.models import AuditEntry
from tenant_apps.catalog.models import Product
from tenant_apps.exports.models import Export
from tenant_apps.orders.models import Customer, Order
from tests.factories import CustomerFactory, ExportFactory, OrderFactory, ProductFactory


@pytest.fixture
def schema(alpha):
    def enter():
        connection.set_tenant(alpha.tenant)

    enter()
    return enter


def order_post(customer, lines, **extra):
    data = {
        "customer": customer.pk if customer else "",
        "notes": "",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "50",
    }
    for index, (product, quantity) in enumerate(lines):
        data[f"lines-{index}-product"] = product.pk if product else ""
        data[f"lines-{index}-quantity"] = quantity
    return {**data, **extra}


# Customers -------------------------------------------------------------------------------


def test_customers_are_listed_created_and_edited(schema, page_client):
    CustomerFactory(name="Road Runner", email="beep@desert.test")
    client = page_client("member")
    html = client.get("/app/customers/", {"search": "beep"}).content.decode()
    assert "Road Runner" in html
    response = client.post("/app/customers/new/", {"name": "Wile E.", "email": "Wile@Desert.test"})
    assert response.status_code == 302
    schema()
    wile = Customer.objects.get(name="Wile E.")
    assert wile.email == "wile@desert.test"
    response = client.post(
        f"/app/customers/{wile.pk}/", {"name": "Wile E. Coyote", "email": "wile@desert.test"}
    )
    assert response.status_code == 302
    schema()
    assert Customer.objects.get(pk=wile.pk).name == "Wile E. Coyote"


def test_a_taken_email_is_a_409_next_to_the_field(schema, page_client):
    CustomerFactory(email="beep@desert.test")
    response = page_client("member").post(
        "/app/customers/new/", {"name": "Copy", "email": "BEEP@desert.test"}
    )
    assert response.status_code == 409
    assert 'id="id_email_error"' in response.content.decode()
    assert "A customer with this email already exists." in response.content.decode()
    schema()
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    "data", [{"name": "x" * 201, "email": "a@b.test"}, {"name": "A", "email": "not-an-email"}]
)
def test_bad_customer_fields_are_400(schema, page_client, data):
    assert page_client("member").post("/app/customers/new/", data).status_code == 400
    schema()
    assert not Customer.objects.exists()


# Orders ----------------------------------------------------------------------------------


def test_an_order_with_two_lines_is_placed_priced_and_stock_taken(schema, page_client):
    customer = CustomerFactory()
    anvil = ProductFactory(name="Anvil", price=Decimal("49.00"), stock=5)
    seed = ProductFactory(name="Bird seed", price=Decimal("4.99"), stock=100)
    response = page_client("member").post(
        "/app/orders/new/", order_post(customer, [(anvil, 2), (seed, 3)], notes="rush")
    )
    schema()
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/app/orders/{order.pk}/"
    assert order.total == Decimal("112.97")
    assert order.notes == "rush"
    assert Product.objects.get(pk=anvil.pk).stock == 3
    assert Product.objects.get(pk=seed.pk).stock == 97

    detail = page_client("member").get(f"/app/orders/{order.pk}/").content.decode()
    assert 'id="order-total">112.97</strong>' in detail
    assert "Anvil" in detail and "Bird seed" in detail
    assert 'id="cancel-order"' in detail and 'id="mark-paid"' in detail


def test_not_enough_stock_is_a_409_message_naming_the_product_and_nothing_is_written(
    schema, page_client
):
    customer = CustomerFactory()
    anvil = ProductFactory(name="Anvil", stock=1)
    response = page_client("member").post("/app/orders/new/", order_post(customer, [(anvil, 2)]))
    assert response.status_code == 409
    assert "Anvil: Requested 2, 1 in stock." in response.content.decode()
    schema()
    assert not Order.objects.exists()
    assert Product.objects.get(pk=anvil.pk).stock == 1


def test_a_product_archived_meanwhile_is_refused_by_the_service(schema, page_client):
    customer = CustomerFactory()
    old = ProductFactory(name="Old", status="archived")
    response = page_client("member").post("/app/orders/new/", order_post(customer, [(old, 1)]))
    assert response.status_code == 400
    assert f"Product {old.pk} is not on sale." in response.content.decode()


@pytest.mark.parametrize(
    "tamper",
    [
        {"lines-TOTAL_FORMS": "100000"},
        {"lines-TOTAL_FORMS": "abc"},
        {"lines-0-quantity": "0"},
        {"lines-0-quantity": "99999999999"},
        {"lines-0-product": "not-a-product"},
        {"customer": "999999"},
        {"notes": "n" * 5001},
    ],
)
def test_malformed_order_forms_are_400_and_write_nothing(schema, page_client, tamper):
    customer = CustomerFactory()
    anvil = ProductFactory(stock=5)
    data = {**order_post(customer, [(anvil, 1)]), **tamper}
    response = page_client("member").post("/app/orders/new/", data)
    assert response.status_code == 400
    schema()
    assert not Order.objects.exists()


def test_an_order_without_product_lines_is_a_400(schema, page_client):
    customer = CustomerFactory()
    response = page_client("member").post("/app/orders/new/", order_post(customer, [(None, "")]))
    assert response.status_code == 400
    assert "Add at least one line with a product." in response.content.decode()


def test_add_a_line_without_javascript_posts_back_the_form_with_one_more_row(schema, page_client):
    customer = CustomerFactory()
    anvil = ProductFactory(name="Anvil")
    data = order_post(customer, [(anvil, 2)], add_line="1")
    response = page_client("member").post("/app/orders/new/", data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-TOTAL_FORMS" value="2"' in html
    assert f'<option value="{anvil.pk}" selected>' in html  # what was entered is kept
    assert 'name="lines-1-quantity" value="1"' in html
    assert "<html" in html  # the whole page
    schema()
    assert not Order.objects.exists()


def test_add_a_line_with_htmx_returns_only_the_form(schema, page_client):
    customer = CustomerFactory()
    anvil = ProductFactory()
    data = order_post(customer, [(anvil, 2)], add_line="1")
    response = page_client("member").post("/app/orders/new/", data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<form method="post" action="/app/orders/new/"')
    assert "<html" not in html
    assert 'name="lines-TOTAL_FORMS" value="2"' in html


def test_cancel_mark_paid_and_refund_through_the_services(schema, page_client):
    customer = CustomerFactory()
    anvil = ProductFactory(stock=5)
    client = page_client("member")
    client.post("/app/orders/new/", order_post(customer, [(anvil, 2)]))
    schema()
    order = Order.objects.get()
    assert client.post(f"/app/orders/{order.pk}/cancel/").status_code == 302
    schema()
    assert Order.objects.get(pk=order.pk).status == "canceled"
    assert Product.objects.get(pk=anvil.pk).stock == 5  # restored once
    again = client.post(f"/app/orders/{order.pk}/cancel/")
    assert again.status_code == 409
    assert "A canceled order cannot be canceled." in again.content.decode()
    schema()
    assert Product.objects.get(pk=anvil.pk).stock == 5

    paid = OrderFactory(customer=customer)
    assert client.post(f"/app/orders/{paid.pk}/mark-paid/").status_code == 302
    assert client.post(f"/app/orders/{paid.pk}/refund/").status_code == 302
    schema()
    assert Order.objects.get(pk=paid.pk).status == "refunded"
    assert client.post(f"/app/orders/{paid.pk}/delete/").status_code == 404


def test_orders_are_filtered_by_status(schema, page_client):
    OrderFactory(status="paid", notes="paid-one")
    OrderFactory(status="placed", notes="placed-one")
    client = page_client("viewer")
    response = client.get("/app/orders/", {"status": "paid"})
    assert [o.status for o in response.context["page"].object_list] == ["paid"]
    assert client.get("/app/orders/", {"status": "lost"}).status_code == 400


def test_a_viewer_cannot_order_or_change_orders(schema, page_client):
    customer = CustomerFactory()
    anvil = ProductFactory(stock=5)
    order = OrderFactory(customer=customer)
    client = page_client("viewer")
    detail = client.get(f"/app/orders/{order.pk}/").content.decode()
    assert 'id="cancel-order"' not in detail and 'id="mark-paid"' not in detail
    assert 'id="new-order"' not in client.get("/app/orders/").content.decode()
    assert client.post("/app/orders/new/", order_post(customer, [(anvil, 1)])).status_code == 403
    assert client.post(f"/app/orders/{order.pk}/cancel/").status_code == 403
    assert client.post("/app/customers/new/", {"name": "A", "email": "a@b.test"}).status_code == 403
    schema()
    assert Order.objects.get().status == "placed"
    assert Customer.objects.count() == 1
    assert not AuditEntry.objects.exists()


def test_another_tenants_orders_and_customers_are_404(alpha, beta, page_client):
    connection.set_tenant(beta.tenant)
    order = OrderFactory(notes="beta only")
    connection.set_schema_to_public()
    client = page_client("owner")
    assert client.get(f"/app/orders/{order.pk}/").status_code == 404
    assert client.post(f"/app/orders/{order.pk}/cancel/").status_code == 404
    assert client.get(f"/app/customers/{order.customer_id}/").status_code == 404
    connection.set_tenant(beta.tenant)
    assert Order.objects.get(pk=order.pk).status == "placed"


# Exports ---------------------------------------------------------------------------------


def test_an_export_is_requested_and_its_row_polls_until_done(
    schema, page_client, django_capture_on_commit_callbacks
):
    client = page_client("member")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/app/exports/", {"kind": "orders_csv"})
    assert response.status_code == 302
    assert len(callbacks) == 1  # the task is queued after commit
    schema()
    export = Export.objects.get()
    listing = client.get("/app/exports/").content.decode()
    assert f'hx-get="/app/exports/{export.pk}/row/"' in listing
    assert 'hx-trigger="every 1s"' in listing

    row = client.get(f"/app/exports/{export.pk}/row/")
    assert row.content.decode().lstrip().startswith(f'<tr id="export-{export.pk}" hx-get=')

    schema()
    Export.objects.filter(pk=export.pk).update(status="done", file_path="x.csv", row_count=3)
    done = client.get(f"/app/exports/{export.pk}/row/").content.decode()
    assert "hx-get" not in done  # polling stops
    assert f'href="/api/v1/exports/{export.pk}/download/"' in done


def test_a_bad_export_kind_is_400_and_a_viewer_cannot_request(schema, page_client):
    assert page_client("member").post("/app/exports/", {"kind": "everything"}).status_code == 400
    assert page_client("viewer").post("/app/exports/", {"kind": "orders_csv"}).status_code == 403
    schema()
    assert not Export.objects.exists()


def test_another_tenants_export_row_is_404(alpha, beta, page_client):
    connection.set_tenant(beta.tenant)
    export = ExportFactory()
    connection.set_schema_to_public()
    assert page_client("owner").get(f"/app/exports/{export.pk}/row/").status_code == 404
