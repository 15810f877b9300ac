from django.db.models import QuerySet

from billing.limits import Limit, usage_counter
from shared_apps.core.querysets import built_once
from tenant_apps.catalog.models import Category, Product
from tenants.models import Tenant


@built_once
def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent")


@built_once
def product_list() -> QuerySet[Product]:
    return Product.objects.select_related("category")


@usage_counter(Limit.PRODUCTS)
def product_count(tenant: Tenant) -> int:
    """Products of the active tenant's schema, archived ones included (plan limit)."""
    return Product.objects.count()
