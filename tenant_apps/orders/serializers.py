from decimal import Decimal

from rest_framework import serializers

from shared_apps.core.fields import StrictPrimaryKeyRelatedField
from shared_apps.core.serializers import OutputModelSerializer
from tenant_apps.catalog.models import Product
from tenant_apps.orders.models import Customer, Order, OrderItem

MAX_QUANTITY = 1_000_000


class CustomerInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField()


class CustomerOutputSerializer(OutputModelSerializer):
    order_count = serializers.IntegerField(read_only=True, default=0)
    total_spent = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, default=Decimal("0.00")
    )

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "order_count", "total_spent", "created", "updated"]


class OrderItemInputSerializer(serializers.Serializer):
    product = StrictPrimaryKeyRelatedField(queryset=Product.objects.all())
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderInputSerializer(serializers.Serializer):
    customer = StrictPrimaryKeyRelatedField(queryset=Customer.objects.all())
    items = OrderItemInputSerializer(many=True, allow_empty=False, max_length=200)  # type: ignore[call-arg]
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5_000)


class CustomerBriefSerializer(OutputModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "email"]


class OrderListSerializer(OutputModelSerializer):
    customer = CustomerBriefSerializer()
    item_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Order
        fields = ["id", "customer", "status", "total", "item_count", "created", "updated"]


class OrderItemOutputSerializer(OutputModelSerializer):
    product_name = serializers.CharField(source="product.name")

    class Meta:
        model = OrderItem
        fields = ["id", "product", "product_name", "quantity", "unit_price", "line_total"]


class OrderDetailSerializer(OrderListSerializer):
    items = OrderItemOutputSerializer(many=True)

    class Meta(OrderListSerializer.Meta):
        fields = [
            *OrderListSerializer.Meta.fields,
            "notes",
            "items",
            "paid_at",
            "canceled_at",
            "refunded_at",
        ]


class OrderSummarySerializer(serializers.Serializer):
    order_count = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    paid_revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    refund_count = serializers.IntegerField()
    canceled_count = serializers.IntegerField()
    average_order_value = serializers.DecimalField(max_digits=16, decimal_places=2)


class MonthlyRevenueSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    order_count = serializers.IntegerField()


class MonthlyRevenueQuerySerializer(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=120, default=12)
