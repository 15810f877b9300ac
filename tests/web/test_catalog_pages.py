"""Product pages (tenant_apps/catalog/pages.py): list, filters, create, edit, archive."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from tenant_apps.audit.models import AuditEntry
from tenant_apps.catalog.models import Product
from tests.factories import CategoryFactory, PlanFactory, ProductFactory

VALID = {"name": "Rocket skates", "price": "129.50", "stock": "7", "status": "active"}


@pytest.fixture
def schema(alpha):
    """Enter alpha's schema for setup and assertions (requests leave it anyway)."""

    def enter():
        connection.set_tenant(alpha.tenant)

    enter()
    return enter


def test_list_searches_filters_and_paginates(schema, page_client):
    tools = CategoryFactory(name="Tools")
    ProductFactory(name="Anvil", category=tools, status="active")
    ProductFactory(name="Giant magnet", category=tools, status="draft")
    ProductFactory(name="Bird seed", status="active")
    for index in range(30):
        ProductFactory(name=f"Bulk {index:02}", status="archived")
    client = page_client("viewer")

    html = client.get("/app/products/", {"search": "magnet"}).content.decode()
    assert "Giant magnet" in html and "Anvil" not in html

    html = client.get("/app/products/", {"category": tools.pk, "status": "active"}).content.decode()
    assert "Anvil" in html and "Giant magnet" not in html and "Bird seed" not in html

    first = client.get("/app/products/", {"status": "archived"})
    assert first.context["page"].paginator.count == 30
    assert len(first.context["page"].object_list) == 25
    assert 'href="?status=archived&amp;page=2"' in first.content.decode()
    second = client.get("/app/products/", {"status": "archived", "page": "2"})
    assert len(second.context["page"].object_list) == 5
    # A malformed page number shows a page instead of failing.
    assert client.get("/app/products/", {"page": "x' OR 1=1"}).status_code == 200


@pytest.mark.parametrize(
    "query",
    [{"category": "not-a-number"}, {"status": "bogus"}, {"search": "x" * 201}],
)
def test_malformed_filters_are_a_400_page(page_client, query):
    response = page_client("member").get("/app/products/", query)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_a_member_creates_a_product_and_it_is_audited(schema, page_client):
    category = CategoryFactory(name="Hardware")
    response = page_client("member").post("/app/products/new/", {**VALID, "category": category.pk})
    assert response.status_code == 302 and response["Location"] == "/app/products/"
    schema()
    product = Product.objects.get()
    assert (product.name, product.price, product.stock, product.category) == (
        "Rocket skates",
        Decimal("129.50"),
        7,
        category,
    )
    assert AuditEntry.objects.filter(action="product.created", object_id=str(product.pk)).exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "n" * 201),
        ("name", ""),
        ("price", "abc"),
        ("price", "-1"),
        ("price", "1" * 40),
        ("stock", "99999999999999999999"),
        ("status", "sold"),
        ("category", "999999"),
        ("description", "d" * 10_001),
    ],
)
def test_bad_fields_are_400_form_errors_next_to_the_field_and_nothing_is_written(
    schema, page_client, field, value
):
    response = page_client("member").post("/app/products/new/", {**VALID, field: value})
    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in html
    assert f'aria-describedby="id_{field}_error"' in html or "aria-describedby" in html
    assert 'aria-invalid="true"' in html
    schema()
    assert not Product.objects.exists()


def test_the_plan_limit_is_a_402_message_on_the_form(alpha, schema, page_client):
    tenant = alpha.tenant
    tenant.plan = PlanFactory(code="tiny", max_products=1)
    tenant.save(update_fields=["plan"])
    ProductFactory()
    response = page_client("owner").post("/app/products/new/", VALID)
    assert response.status_code == 402
    assert "Your Tiny plan allows 1 products; upgrade to add more." in response.content.decode()
    schema()
    assert Product.objects.count() == 1


def test_a_taken_slug_is_a_409_on_the_form(schema, page_client):
    ProductFactory(name="Anvil", slug="anvil")
    schema()
    product = ProductFactory(name="Other", slug="other")
    response = page_client("member").post(
        f"/app/products/{product.pk}/", {**VALID, "name": "Anvil"}
    )
    # The name changes, the slug stays: no conflict. A product page never sets slugs.
    assert response.status_code == 302


def test_edit_and_archive(schema, page_client):
    product = ProductFactory(name="Anvil", price=Decimal("49.00"))
    client = page_client("member")
    form = client.get(f"/app/products/{product.pk}/")
    assert 'value="Anvil"' in form.content.decode()
    response = client.post(f"/app/products/{product.pk}/", {**VALID, "name": "Anvil XL"})
    assert response.status_code == 302
    schema()
    assert Product.objects.get(pk=product.pk).name == "Anvil XL"
    assert client.post(f"/app/products/{product.pk}/archive/").status_code == 302
    schema()
    assert Product.objects.get(pk=product.pk).status == "archived"
    assert AuditEntry.objects.filter(action="product.archived").count() == 1


def test_a_viewer_sees_no_write_buttons_and_gets_403_when_posting(schema, page_client):
    product = ProductFactory(name="Anvil")
    client = page_client("viewer")
    html = client.get("/app/products/").content.decode()
    assert "Anvil" in html
    assert 'id="new-product"' not in html
    assert "/archive/" not in html
    assert f'href="/app/products/{product.pk}/"' not in html  # no edit link either
    assert client.get("/app/products/new/").status_code == 403
    for path, data in [
        ("/app/products/new/", VALID),
        (f"/app/products/{product.pk}/", VALID),
        (f"/app/products/{product.pk}/archive/", {}),
    ]:
        response = client.post(path, data)
        assert response.status_code == 403
        assert "This action needs the member role or higher." in response.content.decode()
    schema()
    assert Product.objects.get().name == "Anvil"
    assert Product.objects.get().status == "active"
    assert not AuditEntry.objects.exists()


def test_another_tenants_product_ids_are_404(alpha, beta, page_client):
    connection.set_tenant(beta.tenant)
    theirs = ProductFactory(name="Beta secret")
    connection.set_schema_to_public()
    client = page_client("owner")
    for response in (
        client.get(f"/app/products/{theirs.pk}/"),
        client.post(f"/app/products/{theirs.pk}/", VALID),
        client.post(f"/app/products/{theirs.pk}/archive/"),
    ):
        assert response.status_code == 404
        assert "Beta secret" not in response.content.decode()
    connection.set_tenant(beta.tenant)
    assert Product.objects.get(pk=theirs.pk).name == "Beta secret"
