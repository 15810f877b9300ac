from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from shared_apps.core.viewsets import (
    CreateModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    TenantCrudViewSet,
    TenantViewSet,
)
from tenant_apps.orders import selectors, services
from tenant_apps.orders.filters import OrderFilter
from tenant_apps.orders.serializers import (
    CustomerInputSerializer,
    CustomerOutputSerializer,
    MonthlyRevenueQuerySerializer,
    MonthlyRevenueSerializer,
    OrderDetailSerializer,
    OrderInputSerializer,
    OrderListSerializer,
    OrderSummarySerializer,
)


class CustomerViewSet(TenantCrudViewSet):
    output_serializer_class = CustomerOutputSerializer
    input_serializer_class = CustomerInputSerializer
    search_fields = ["name", "email"]
    ordering_fields = ["name", "created", "order_count", "total_spent"]
    ordering = ["-created"]

    def select(self):
        return selectors.customer_list()

    def create_object(self, data):
        customer = services.customer_create(**data, acting_user=self.acting_user)
        return selectors.customer_list().get(pk=customer.pk)

    def update_object(self, obj, data):
        customer = services.customer_update(customer=obj, data=data, acting_user=self.acting_user)
        return selectors.customer_list().get(pk=customer.pk)

    def delete_object(self, obj):
        services.customer_delete(customer=obj, acting_user=self.acting_user)


class OrderViewSet(ListModelMixin, RetrieveModelMixin, CreateModelMixin, TenantViewSet):
    output_serializer_class = OrderDetailSerializer
    list_serializer_class = OrderListSerializer
    input_serializer_class = OrderInputSerializer
    filterset_class = OrderFilter
    search_fields = ["customer__name", "customer__email", "notes"]
    ordering_fields = ["created", "total"]
    ordering = ["-created"]

    def select(self):
        if self.action == "list":
            return selectors.order_list()
        return selectors.order_detail_queryset()

    def _fresh(self, order):
        return selectors.order_detail_queryset().get(pk=order.pk)

    def create_object(self, data):
        return self._fresh(services.order_create(**data, acting_user=self.acting_user))

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = services.order_cancel(order=self.get_object(), acting_user=request.user)
        return self.render(self._fresh(order))

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request, pk=None):
        order = services.order_mark_paid(order=self.get_object(), acting_user=request.user)
        return self.render(self._fresh(order))

    @extend_schema(request=None, responses=OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        order = services.order_refund(order=self.get_object(), acting_user=request.user)
        return self.render(self._fresh(order))

    @extend_schema(responses=OrderSummarySerializer, filters=False)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def summary(self, request):
        return Response(OrderSummarySerializer(selectors.order_summary()).data)

    @extend_schema(
        responses=MonthlyRevenueSerializer(many=True),
        parameters=[OpenApiParameter("months", int, description="How many months (1-120)")],
        filters=False,
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="monthly-revenue",
        filter_backends=[],
        pagination_class=None,
    )
    def monthly_revenue(self, request):
        query = MonthlyRevenueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.order_monthly_revenue(months=query.validated_data["months"])
        return Response(MonthlyRevenueSerializer(rows, many=True).data)
