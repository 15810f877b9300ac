import django_filters

from tenant_apps.catalog.models import Category, Product, ProductStatus


class ProductFilter(django_filters.FilterSet):
    category = django_filters.ModelChoiceFilter(queryset=Category.objects.all())
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices)
    # Bounded like the column (numeric(12, 2)): anything else is a 400, not a database error.
    min_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="gte", min_value=0, max_digits=12, decimal_places=2
    )
    max_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="lte", min_value=0, max_digits=12, decimal_places=2
    )

    class Meta:
        model = Product
        fields = ["category", "status", "min_price", "max_price"]


class CategoryFilter(django_filters.FilterSet):
    parent = django_filters.ModelChoiceFilter(queryset=Category.objects.all())
    root = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull")

    class Meta:
        model = Category
        fields = ["parent", "root"]
