"""List endpoints use a constant number of queries whatever the page size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shared_apps.organizations.models import OrganizationInvitation
from tests.factories import (
    AuditEntryFactory,
    CategoryFactory,
    CustomerFactory,
    ExportFactory,
    MembershipFactory,
    OrderItemFactory,
    ProductFactory,
)
from tests.support import bearer_client

LIST_ENDPOINTS = [
    "/api/v1/categories/",
    "/api/v1/products/",
    "/api/v1/customers/",
    "/api/v1/orders/",
    "/api/v1/members/",
    "/api/v1/invitations/",
    "/api/v1/exports/",
    "/api/v1/audit-log/",
]


@pytest.fixture
def many_rows(in_alpha, alpha):
    for _ in range(12):
        order_item = OrderItemFactory(product=ProductFactory(category=CategoryFactory()))
        OrderItemFactory(order=order_item.order)
        CustomerFactory()
        ExportFactory()
        AuditEntryFactory(actor_id=alpha.user("owner").pk)
        MembershipFactory(organization=in_alpha.organization)
        OrganizationInvitation.objects.create(
            organization=in_alpha.organization,
            invitee_identifier=f"i{_}@x.test",
            invited_by=alpha.user("owner"),
        )
    connection.set_schema_to_public()


def _count(client, url: str) -> tuple[int, int]:
    client.get(url)  # warm-up
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.json()
    return len(queries), len(response.json()["results"])


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_queries_do_not_grow_with_page_size(many_rows, alpha, path):
    client = bearer_client(alpha, "owner")
    small, small_rows = _count(client, f"{path}?page_size=2")
    large, large_rows = _count(client, f"{path}?page_size=100")
    assert small_rows == 2 and large_rows >= 12
    assert small == large
    assert large <= 4  # routing + membership + the page (+ a prefetch at most)
