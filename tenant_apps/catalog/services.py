"""Catalog writes. Every service validates, writes, and audits in one transaction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from billing.limits import Limit, limit_check
from shared_apps.core.errors import Conflict, ValidationFailed
from shared_apps.core.slugs import unique_slug
from tenant_apps.audit.services import audit_record
from tenant_apps.catalog.models import Category, Product, ProductStatus
from tenants.context import current_tenant

PRODUCT_FIELDS = ("name", "slug", "description", "price", "stock", "status", "category")


class SlugTaken(Conflict):
    code = "slug_taken"
    message = "That slug is already used."


def _check_slug_free(model, slug: str, *, exclude_pk: int | None = None) -> None:
    query = model.objects.filter(slug=slug)
    if exclude_pk is not None:
        query = query.exclude(pk=exclude_pk)
    if query.exists():
        raise SlugTaken(fields={"slug": [SlugTaken.message]})


def _check_parent(category: Category | None, parent: Category | None) -> None:
    node = parent
    while node is not None:
        if category is not None and node.pk == category.pk:
            raise ValidationFailed(fields={"parent": ["A category cannot be its own ancestor."]})
        node = node.parent


@transaction.atomic
def category_create(
    *, name: str, slug: str | None = None, parent: Category | None = None, acting_user
) -> Category:
    if slug:
        _check_slug_free(Category, slug)
    category = Category(name=name, slug=slug or unique_slug(Category, name), parent=parent)
    category.full_clean()
    category.save()
    audit_record(
        actor=acting_user,
        action="category.created",
        target=category,
        changes={"name": name, "parent": parent},
    )
    return category


@transaction.atomic
def category_update(*, category: Category, data: dict[str, Any], acting_user) -> Category:
    if "slug" in data:
        _check_slug_free(Category, data["slug"], exclude_pk=category.pk)
    if "parent" in data:
        _check_parent(category, data["parent"])
    changed = {}
    for field in ("name", "slug", "parent"):
        if field in data and getattr(category, field) != data[field]:
            setattr(category, field, data[field])
            changed[field] = data[field]
    if changed:
        category.full_clean()
        category.save(update_fields=[*changed, "updated"])
        audit_record(actor=acting_user, action="category.updated", target=category, changes=changed)
    return category


@transaction.atomic
def category_delete(*, category: Category, acting_user) -> None:
    pk = category.pk
    try:
        category.delete()
    except ProtectedError as exc:
        raise Conflict("Move or delete its subcategories first.") from exc
    audit_record(
        actor=acting_user, action="category.deleted", object_type="catalog.category", object_id=pk
    )


@transaction.atomic
def product_create(
    *,
    name: str,
    price: Decimal,
    slug: str | None = None,
    description: str = "",
    stock: int = 0,
    status: str = ProductStatus.DRAFT,
    category: Category | None = None,
    acting_user,
) -> Product:
    """Create a product within the plan's product limit (402 ``plan_limit_exceeded``)."""
    limit_check(tenant=current_tenant(), limit=Limit.PRODUCTS)
    if slug:
        _check_slug_free(Product, slug)
    product = Product(
        name=name,
        slug=slug or unique_slug(Product, name, max_length=220),
        description=description,
        price=price,
        stock=stock,
        status=status,
        category=category,
    )
    product.full_clean()
    product.save()
    audit_record(
        actor=acting_user,
        action="product.created",
        target=product,
        changes={f: getattr(product, f) for f in PRODUCT_FIELDS},
    )
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any], acting_user) -> Product:
    product = Product.objects.select_for_update().get(pk=product.pk)
    if "slug" in data:
        _check_slug_free(Product, data["slug"], exclude_pk=product.pk)
    changed = {}
    for field in PRODUCT_FIELDS:
        if field in data and getattr(product, field) != data[field]:
            setattr(product, field, data[field])
            changed[field] = data[field]
    if changed:
        product.full_clean()
        product.save(update_fields=[*changed, "updated"])
        audit_record(actor=acting_user, action="product.updated", target=product, changes=changed)
    return product


@transaction.atomic
def product_archive(*, product: Product, acting_user) -> Product:
    """Hide a product from sale without deleting it (idempotent)."""
    if product.status != ProductStatus.ARCHIVED:
        product.status = ProductStatus.ARCHIVED
        product.save(update_fields=["status", "updated"])
        audit_record(actor=acting_user, action="product.archived", target=product)
    return product


@transaction.atomic
def product_delete(*, product: Product, acting_user) -> None:
    pk = product.pk
    try:
        product.delete()
    except ProtectedError as exc:
        raise Conflict("This product has orders; archive it instead.") from exc
    audit_record(
        actor=acting_user, action="product.deleted", object_type="catalog.product", object_id=pk
    )
