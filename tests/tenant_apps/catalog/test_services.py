"""tenant_apps/catalog/services.py: category updates (the API tests cover the rest)."""

from __future__ import annotations

import pytest

from tenant_apps.catalog.services import SlugTaken, category_update
from tests.factories import CategoryFactory


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
