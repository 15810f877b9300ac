"""Catalog services and API: CRUD, filters, search, ordering, pagination, archive, roles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared_apps.core.errors import ErrorCode, ValidationFailed
from tenant_apps.audit.models import AuditEntry
from tenant_apps.catalog import services
from tenant_apps.catalog.models import Category, Product
from tenants.models import Tenant
from tests.factories import CategoryFactory, OrderItemFactory, ProductFactory
from tests.support import bearer_client, error_of

# Services ------------------------------------------------------------------------------------


def test_category_create_makes_a_unique_slug_and_audits(in_alpha, alpha):
    owner = alpha.user("owner")
    first = services.category_create(name="Garden Tools", acting_user=owner)
    second = services.category_create(name="Garden Tools", acting_user=owner)
    assert first.slug == "garden-tools"
    assert second.slug.startswith("garden-tools-") and second.slug != first.slug
    entry = AuditEntry.objects.get(object_id=str(first.pk), action="category.created")
    assert entry.actor_id == owner.pk and entry.changes["name"] == "Garden Tools"


def test_category_explicit_slug_taken_is_409(in_alpha, alpha):
    CategoryFactory(slug="tools")
    with pytest.raises(services.SlugTaken):
        services.category_create(name="Tools", slug="tools", acting_user=alpha.user("owner"))


def test_category_cannot_become_its_own_ancestor(in_alpha, alpha):
    root = CategoryFactory()
    child = CategoryFactory(parent=root)
    grandchild = CategoryFactory(parent=child)
    with pytest.raises(ValidationFailed) as excinfo:
        services.category_update(category=root, data={"parent": grandchild}, acting_user=None)
    assert "parent" in excinfo.value.fields
    root.refresh_from_db()
    assert root.parent is None


def test_category_with_children_cannot_be_deleted(in_alpha):
    root = CategoryFactory()
    CategoryFactory(parent=root)
    with pytest.raises(services.Conflict):
        services.category_delete(category=root, acting_user=None)
    assert Category.objects.filter(pk=root.pk).exists()


def test_product_create_update_archive_delete(in_alpha, alpha):
    owner = alpha.user("owner")
    product = services.product_create(
        name="Anvil", price=Decimal("49.00"), stock=3, acting_user=owner
    )
    assert (product.slug, product.status) == ("anvil", "draft")
    services.product_update(product=product, data={"price": Decimal("45.50")}, acting_user=owner)
    product.refresh_from_db()
    assert product.price == Decimal("45.50")
    services.product_archive(product=product, acting_user=owner)
    services.product_archive(product=product, acting_user=owner)  # idempotent
    assert Product.objects.get(pk=product.pk).status == "archived"
    actions = list(
        AuditEntry.objects.filter(object_id=str(product.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["product.created", "product.updated", "product.archived"]
    services.product_delete(product=product, acting_user=owner)
    assert not Product.objects.filter(pk=product.pk).exists()


def test_ordered_product_cannot_be_deleted(in_alpha):
    item = OrderItemFactory()
    with pytest.raises(services.Conflict, match="archive it instead"):
        services.product_delete(product=item.product, acting_user=None)


def test_product_limit_blocks_creation_but_keeps_data(in_alpha, alpha):
    plan = alpha.tenant.plan
    plan.max_products = 2
    plan.save(update_fields=["max_products"])
    in_alpha.plan = plan  # the connection's tenant object carries the plan
    owner = alpha.user("owner")
    ProductFactory.create_batch(2)
    from shared_apps.core.errors import PlanLimitExceeded

    with pytest.raises(PlanLimitExceeded) as excinfo:
        services.product_create(name="One too many", price=Decimal(1), acting_user=owner)
    assert excinfo.value.fields == {"limit": "products", "allowed": 2, "used": 2}
    assert Product.objects.count() == 2


# API -----------------------------------------------------------------------------------------


def test_product_crud_over_the_api(alpha):
    client = bearer_client(alpha, "member")
    category = client.post("/api/v1/categories/", {"name": "Hardware"}, format="json").json()
    created = client.post(
        "/api/v1/products/",
        {
            "name": "Anvil",
            "price": "49.00",
            "stock": 5,
            "status": "active",
            "category": category["id"],
        },
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["price"] == "49.00" and body["category"]["name"] == "Hardware"
    pid = body["id"]
    patched = client.patch(f"/api/v1/products/{pid}/", {"stock": 7}, format="json")
    assert patched.status_code == 200 and patched.json()["stock"] == 7
    archived = client.post(f"/api/v1/products/{pid}/archive/")
    assert archived.json()["status"] == "archived"
    assert client.get(f"/api/v1/products/{pid}/").json()["status"] == "archived"
    assert client.delete(f"/api/v1/products/{pid}/").status_code == 204
    assert client.get(f"/api/v1/products/{pid}/").status_code == 404


def test_viewer_reads_but_cannot_write(alpha):
    viewer = bearer_client(alpha, "viewer")
    assert viewer.get("/api/v1/products/").status_code == 200
    response = viewer.post("/api/v1/products/", {"name": "X", "price": "1.00"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == ErrorCode.PERMISSION_DENIED


def test_suspended_tenant_reads_but_cannot_write(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status="suspended")
    client = bearer_client(alpha, "owner")
    assert client.get("/api/v1/products/").status_code == 200
    response = client.post("/api/v1/products/", {"name": "X", "price": "1.00"}, format="json")
    assert response.status_code == 402
    assert error_of(response)["code"] == ErrorCode.TENANT_SUSPENDED


def test_validation_errors(alpha):
    client = bearer_client(alpha)
    response = client.post(
        "/api/v1/products/",
        {"name": "", "price": "-1", "stock": -2, "status": "gone"},
        format="json",
    )
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"name", "price", "stock", "status"}


def test_filters_search_ordering(in_alpha, alpha):
    tools = CategoryFactory(name="Tools")
    ProductFactory(name="Hammer", price=Decimal("10.00"), category=tools, description="steel head")
    ProductFactory(name="Saw", price=Decimal("25.00"), category=tools)
    ProductFactory(name="Rope", price=Decimal("5.00"), draft=True)
    from django.db import connection

    connection.set_schema_to_public()
    client = bearer_client(alpha)

    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/products/?{query}")
        assert response.status_code == 200, response.json()
        return [p["name"] for p in response.json()["results"]]

    assert names(f"category={tools.pk}&ordering=name") == ["Hammer", "Saw"]
    assert names("status=draft") == ["Rope"]
    assert names("min_price=6&max_price=20") == ["Hammer"]
    assert names("search=steel") == ["Hammer"]
    assert names("ordering=-price") == ["Saw", "Hammer", "Rope"]
    assert client.get("/api/v1/products/?status=nope").status_code == 400


def test_cursor_pagination_walks_every_product_once(in_alpha, alpha):
    ProductFactory.create_batch(7)
    from django.db import connection

    connection.set_schema_to_public()
    client = bearer_client(alpha)
    seen, url = [], "/api/v1/products/?page_size=3"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 3
        seen += [p["id"] for p in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7


def test_non_integer_ids_are_404_not_500(alpha):
    response = bearer_client(alpha).get("/api/v1/products/abc/")
    assert response.status_code == 404
    assert error_of(response)["code"] == ErrorCode.NOT_FOUND


def test_category_tree_filters(in_alpha, alpha):
    root = CategoryFactory(name="Root")
    CategoryFactory(name="Leaf", parent=root)
    from django.db import connection

    connection.set_schema_to_public()
    client = bearer_client(alpha)
    roots = [c["name"] for c in client.get("/api/v1/categories/?root=true").json()["results"]]
    assert roots == ["Root"]
    leaves = client.get(f"/api/v1/categories/?parent={root.pk}").json()["results"]
    assert [c["name"] for c in leaves] == ["Leaf"]
    cycle = client.patch(
        f"/api/v1/categories/{root.pk}/", {"parent": leaves[0]["id"]}, format="json"
    )
    assert cycle.status_code == 400
