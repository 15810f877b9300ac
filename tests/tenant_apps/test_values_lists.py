"""Lists read as ``.values()`` rows answer byte for byte what model instances answer:
every list endpoint, its filters, search, orderings and cursor pages."""

from __future__ import annotations

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from shared_apps.core.serializers import values_plan
from shared_apps.core.viewsets import ListModelMixin
from tenant_apps.catalog.serializers import CategoryOutputSerializer, ProductOutputSerializer
from tenant_apps.orders.serializers import CustomerOutputSerializer, OrderListSerializer
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)
from tests.support import bearer_client

QUERIES = [
    "/api/v1/products/",
    "/api/v1/products/?page_size=3",
    "/api/v1/products/?ordering=price&page_size=4",
    "/api/v1/products/?ordering=-name",
    "/api/v1/products/?ordering=stock,-created",
    "/api/v1/products/?search=gadget",
    "/api/v1/products/?status=archived",
    "/api/v1/products/?min_price=5&max_price=50",
    "/api/v1/categories/",
    "/api/v1/categories/?root=true",
    "/api/v1/categories/?ordering=-name&page_size=2",
    "/api/v1/customers/",
    "/api/v1/customers/?ordering=-total_spent&page_size=2",
    "/api/v1/customers/?ordering=order_count",
    "/api/v1/customers/?search=example",
    "/api/v1/orders/",
    "/api/v1/orders/?ordering=total&page_size=2",
    "/api/v1/orders/?status=placed",
    "/api/v1/orders/?search=notes",
    "/api/v1/members/",
    "/api/v1/invitations/",
    "/api/v1/exports/",
    "/api/v1/audit-log/",
]


@pytest.fixture
def rows(in_alpha):
    parent = CategoryFactory(name="Parent")
    child = CategoryFactory(name="Ünïcødé ✓", parent=parent)
    for n in range(7):
        ProductFactory(
            name=f"gadget {n}" if n % 2 else f"thing {n}",
            category=(None, parent, child)[n % 3],
            price=f"{n * 7}.{n}0",
            stock=n % 3,  # ties: the cursor's second ordering field decides
        )
    ProductFactory(status="archived", category=None)
    for n in range(3):
        # Distinct totals: rows tied under ?ordering=total come in no defined order (SQL),
        # whichever way they are read.
        order = OrderFactory(
            customer=CustomerFactory(email=f"c{n}@example.test"), notes="notes", total=f"{n}5.00"
        )
        for _ in range(n + 1):
            OrderItemFactory(order=order, product=ProductFactory(category=child))
    CustomerFactory()  # no orders: zero and null annotations
    connection.set_schema_to_public()


def _pages(client, url: str) -> list[bytes]:
    """Every page of the list, following the cursor (and one step back)."""
    pages, seen = [], 0
    while url and seen < 12:
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append(response.content)
        body = response.json()
        url = body.get("next")
        if body.get("previous") and seen == 1:
            back = client.get(body["previous"])
            assert back.status_code == 200
            pages.append(back.content)
        seen += 1
    return pages


def test_the_lists_read_as_values(rows):
    for cls in (
        ProductOutputSerializer,
        CategoryOutputSerializer,
        CustomerOutputSerializer,
        OrderListSerializer,
    ):
        assert values_plan(cls) is not None, cls


@pytest.mark.parametrize("url", QUERIES)
def test_same_bytes_as_model_instances(rows, alpha, url, monkeypatch):
    client = bearer_client(alpha, "owner")
    # Django empties the query log when a request starts: start the capture from empty.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    sqls = [q["sql"] for q in queries.captured_queries]  # read now: the next request empties it
    as_values = _pages(client, url)
    monkeypatch.setattr(ListModelMixin, "_values_plan", lambda self, queryset: None)
    as_models = _pages(client, url)
    assert as_values == as_models
    assert len(as_values) >= 1
    if not url.startswith(
        ("/api/v1/members/", "/api/v1/invitations/", "/api/v1/exports/", "/api/v1/audit-log/")
    ):
        # The values path was taken: .values() names each column (AS "id"), and the
        # orders' page reads no column the list does not write (notes).
        assert any('"id" AS "id"' in sql for sql in sqls), sqls
        if "orders" in url:
            selects = [sql.split(" FROM ")[0] for sql in sqls if "LIMIT" in sql]
            assert selects and not any('"orders_order"."notes"' in sql for sql in selects)


def test_a_list_of_beta_shows_nothing_of_alpha(rows, alpha, beta):
    body = bearer_client(beta, "owner").get("/api/v1/products/?page_size=100").json()
    alpha_names = {
        row["name"]
        for row in bearer_client(alpha, "owner")
        .get("/api/v1/products/?page_size=100")
        .json()["results"]
    }
    assert alpha_names and not alpha_names & {row["name"] for row in body["results"]}
