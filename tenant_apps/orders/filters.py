import datetime as dt

import django_filters

from tenant_apps.orders.models import Customer, Order, OrderStatus


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 with any UTC offset Python accepts (±23:59), converted to UTC before it
    reaches PostgreSQL, whose timestamptz input stops at ±15:59."""

    def filter(self, qs, value):
        if value is not None:
            value = value.astimezone(dt.UTC)
        return super().filter(qs, value)


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all())
    created_after = UTCIsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "customer", "created_after", "created_before"]
