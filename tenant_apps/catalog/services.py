"""Catalog writes. Every service validates, writes, and audits in one transaction."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction

from billing.limits import Limit, limit_check
from shared_apps.core.errors import Conflict, ErrorCode, ValidationFailed
from shared_apps.core.slugs import unique_slug
from tenant_apps.audit.actions import AuditAction
from tenant_apps.audit.services import audit_record, audited_delete, audited_update
from tenant_apps.catalog.models import Category, Product, ProductStatus
from tenant_apps.integrations.events import EventType, event_record
from tenants.context import current_tenant

if TYPE_CHECKING:
    from tenant_apps.audit.services import ActingUser

PRODUCT_FIELDS = ("name", "slug", "description", "price", "stock", "status", "category")


class SlugTaken(Conflict):
    code = ErrorCode.SLUG_TAKEN
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
    *, name: str, slug: str | None = None, parent: Category | None = None, acting_user: ActingUser
) -> Category:
    if slug:
        _check_slug_free(Category, slug)
    category = Category(name=name, slug=slug or unique_slug(Category, name), parent=parent)
    category.full_clean()
    category.save()
    audit_record(
        acting_user=acting_user,
        action=AuditAction.CATEGORY_CREATED,
        target=category,
        changes={"name": name, "parent": parent},
    )
    return category


@transaction.atomic
def category_update(
    *, category: Category, data: dict[str, Any], acting_user: ActingUser
) -> Category:
    if "slug" in data:
        _check_slug_free(Category, data["slug"], exclude_pk=category.pk)
    if "parent" in data:
        _check_parent(category, data["parent"])
    audited_update(
        instance=category,
        data=data,
        fields=("name", "slug", "parent"),
        acting_user=acting_user,
        action=AuditAction.CATEGORY_UPDATED,
    )
    return category


@transaction.atomic
def category_delete(*, category: Category, acting_user: ActingUser) -> None:
    audited_delete(
        instance=category,
        acting_user=acting_user,
        action=AuditAction.CATEGORY_DELETED,
        protected="Move or delete its subcategories first.",
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
    acting_user: ActingUser,
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
        acting_user=acting_user,
        action=AuditAction.PRODUCT_CREATED,
        target=product,
        changes={f: getattr(product, f) for f in PRODUCT_FIELDS},
    )
    event_record(EventType.PRODUCT_CREATED, product)
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any], acting_user: ActingUser) -> Product:
    product = Product.objects.select_for_update().get(pk=product.pk)
    if "slug" in data:
        _check_slug_free(Product, data["slug"], exclude_pk=product.pk)
    if audited_update(
        instance=product,
        data=data,
        fields=PRODUCT_FIELDS,
        acting_user=acting_user,
        action=AuditAction.PRODUCT_UPDATED,
    ):
        event_record(EventType.PRODUCT_UPDATED, product)
    return product


@transaction.atomic
def product_archive(*, product: Product, acting_user: ActingUser) -> Product:
    """Hide a product from sale without deleting it (idempotent)."""
    if product.status != ProductStatus.ARCHIVED:
        product.status = ProductStatus.ARCHIVED
        product.save(update_fields=["status", "updated"])
        audit_record(acting_user=acting_user, action=AuditAction.PRODUCT_ARCHIVED, target=product)
        event_record(EventType.PRODUCT_UPDATED, product)
    return product


@transaction.atomic
def product_delete(*, product: Product, acting_user: ActingUser) -> None:
    audited_delete(
        instance=product,
        acting_user=acting_user,
        action=AuditAction.PRODUCT_DELETED,
        protected="This product has orders; archive it instead.",
    )
