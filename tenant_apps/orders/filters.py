import django_filters

from tenant_apps.orders.models import Customer, Order, OrderStatus


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all())
    created_after = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "customer", "created_after", "created_before"]
