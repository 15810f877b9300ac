from django.db.models import QuerySet

from tenant_apps.catalog.models import Category, Product


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent")


def product_list() -> QuerySet[Product]:
    return Product.objects.select_related("category")
