from django.db.models import QuerySet

from billing.limits import Limit, usage_counter
from tenant_apps.catalog.models import Category, Product
from tenants.models import Tenant


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent")


def product_list() -> QuerySet[Product]:
    return Product.objects.select_related("category")


@usage_counter(Limit.PRODUCTS)
def product_count(tenant: Tenant) -> int:
    """Products of the active tenant's schema, archived ones included (plan limit)."""
    return Product.objects.count()
