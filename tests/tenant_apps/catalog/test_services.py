"""tenant_apps/catalog/services.py: category and product updates and slugs (the API
tests cover the rest)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenant_apps.audit.models import AuditEntry
from tenant_apps.catalog.models import Product
from tenant_apps.catalog.services import SlugTaken, category_update, product_create, product_update
from tests.factories import CategoryFactory, ProductFactory


def test_a_category_cannot_take_another_categorys_slug(in_alpha, alpha):
    CategoryFactory(slug="tools")
    category = CategoryFactory(slug="garden")
    with pytest.raises(SlugTaken) as refused:
        category_update(category=category, data={"slug": "tools"}, acting_user=alpha.user("owner"))
    assert refused.value.fields == {"slug": ["That slug is already used."]}
    category.refresh_from_db()
    assert category.slug == "garden"
    # Its own slug is not taken.
    category_update(category=category, data={"slug": "garden"}, acting_user=alpha.user("owner"))


def test_a_category_can_be_moved_to_the_top_level(in_alpha, alpha):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    category_update(category=child, data={"parent": None}, acting_user=alpha.user("owner"))
    child.refresh_from_db()
    assert child.parent is None


def test_a_product_cannot_take_another_products_slug(in_alpha, alpha):
    owner = alpha.user("owner")
    ProductFactory(slug="hammer")
    with pytest.raises(SlugTaken):
        product_create(name="Hammer", slug="hammer", price=Decimal("5.00"), acting_user=owner)
    assert Product.objects.filter(slug="hammer").count() == 1

    saw = product_create(name="Saw", slug="saw", price=Decimal("7.00"), acting_user=owner)
    assert Product.objects.get(pk=saw.pk).slug == "saw"
    with pytest.raises(SlugTaken) as refused:
        product_update(product=saw, data={"slug": "hammer"}, acting_user=owner)
    assert refused.value.fields == {"slug": ["That slug is already used."]}
    assert Product.objects.get(pk=saw.pk).slug == "saw"

    # Its own slug and price again: nothing changes, nothing is audited.
    product_update(product=saw, data={"slug": "saw", "price": saw.price}, acting_user=owner)
    assert not AuditEntry.objects.filter(action="product.updated").exists()
    product_update(product=saw, data={"slug": "saw-xl"}, acting_user=owner)
    entry = AuditEntry.objects.get(action="product.updated")
    assert entry.object_id == str(saw.pk) and entry.changes == {"slug": "saw-xl"}
