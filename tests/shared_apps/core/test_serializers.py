"""Output serializers' plans write exactly what DRF's own serializer path writes."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework import serializers

from shared_apps.core import serializers as core_serializers
from shared_apps.core.serializers import OutputModelSerializer
from tenant_apps.catalog.models import Category, Product
from tenant_apps.catalog.serializers import (
    CategoryOutputSerializer,
    ProductOutputSerializer,
)
from tenant_apps.orders import selectors as order_selectors
from tenant_apps.orders.models import Customer
from tenant_apps.orders.serializers import (
    CustomerOutputSerializer,
    OrderDetailSerializer,
    OrderListSerializer,
)
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderItemFactory,
    ProductFactory,
)


def drf_way(serializer_class, instances) -> list[dict]:
    """DRF's Serializer.to_representation for each row (no plan)."""
    out = []
    for instance in instances:
        serializer = serializer_class(instance)
        out.append(serializers.Serializer.to_representation(serializer, instance))
    return out


def planned(serializer_class, instances) -> list[dict]:
    return list(serializer_class(instances, many=True).data)


@pytest.fixture
def rows(in_alpha):
    parent = CategoryFactory(name="Parent")
    child = CategoryFactory(name="Ünïcødé ✓", parent=parent)
    ProductFactory(category=child, price=Decimal("12.50"), description="")
    ProductFactory(category=None, price=Decimal("0.10"))
    # A naive-free but non-UTC stored value, and microseconds.
    ProductFactory(category=parent).__class__.objects.filter(category=parent).update(
        updated=datetime.datetime(2026, 3, 29, 1, 30, 5, 123456, tzinfo=datetime.UTC)
    )
    item = OrderItemFactory(product=ProductFactory(category=child))
    OrderItemFactory(order=item.order)
    CustomerFactory()  # no orders: annotations of zero / null
    return in_alpha


def test_the_plans_read_every_list_field_without_drfs_path(rows):
    for cls in (ProductOutputSerializer, OrderListSerializer, CustomerOutputSerializer):
        plan = core_serializers._build_plan(cls)
        assert plan, cls
        assert [kind for _, kind, _, _ in plan if kind == core_serializers._DRF] == [], cls


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
def test_same_output_as_drf(rows, zone):
    cases = [
        (ProductOutputSerializer, Product.objects.select_related("category")),
        (ProductOutputSerializer, Product.objects.all()),  # nested fetched per row
        (CategoryOutputSerializer, Category.objects.select_related("parent")),
        (OrderListSerializer, order_selectors.order_list()),
        (OrderDetailSerializer, order_selectors.order_detail_queryset()),
        (CustomerOutputSerializer, order_selectors.customer_list()),
        (CustomerOutputSerializer, Customer.objects.all()),  # annotations missing: defaults
    ]
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        for cls, queryset in cases:
            instances = list(queryset.order_by("pk"))
            assert instances
            assert planned(cls, instances) == drf_way(cls, instances), (cls, zone)
            # the same keys in the same order (the JSON bytes)
            assert [list(r) for r in planned(cls, instances)] == [
                list(r) for r in drf_way(cls, instances)
            ]


def test_rows_off_the_common_case_go_drfs_way(rows):
    product = Product.objects.select_related("category").exclude(category=None).first()
    product.created = datetime.datetime(2026, 1, 2, 3, 4, 5)  # naive: DRF's make_aware
    product.name = 42  # not a str: str() as DRF's CharField
    expected = drf_way(ProductOutputSerializer, [product])
    assert planned(ProductOutputSerializer, [product]) == expected
    assert expected[0]["name"] == "42"
    assert expected[0]["created"] == "2026-01-02T03:04:05Z"
    # A dict row: DRF reads keys.
    row = {"id": 1, "name": "n", "slug": "s"}
    brief = core_serializers.OutputModelSerializer
    assert issubclass(ProductOutputSerializer, brief)
    from tenant_apps.catalog.serializers import CategoryBriefSerializer

    assert CategoryBriefSerializer(row).data == row


def test_a_settings_change_rebuilds_the_plan(rows):
    product = Product.objects.select_related("category").first()
    before = ProductOutputSerializer(product).data
    assert isinstance(before["price"], str)
    with override_settings(REST_FRAMEWORK={"COERCE_DECIMAL_TO_STRING": False}):
        during = ProductOutputSerializer(product).data
        assert isinstance(during["price"], Decimal)
        assert during == drf_way(ProductOutputSerializer, [product])[0]
    assert ProductOutputSerializer(product).data == before


def test_fields_the_plan_cannot_read_use_drfs_fields(rows):
    class WithMethod(OutputModelSerializer):
        upper = serializers.SerializerMethodField()
        category_name = serializers.CharField(source="category.name", default=None)

        class Meta:
            model = Product
            fields = ["id", "upper", "category_name", "created"]

        def get_upper(self, obj):
            return obj.name.upper()

    instances = list(Product.objects.select_related("category").order_by("pk"))
    plan = core_serializers._build_plan(WithMethod)
    assert [kind for _, kind, _, _ in plan] == [
        core_serializers._VALUE,
        core_serializers._DRF,
        core_serializers._DRF,
        core_serializers._DATETIME,
    ]
    assert planned(WithMethod, instances) == drf_way(WithMethod, instances)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_values_rows_write_what_instances_write(rows, zone):
    cases = [
        (ProductOutputSerializer, Product.objects.all()),
        (CategoryOutputSerializer, Category.objects.all()),
        (OrderListSerializer, order_selectors.order_list()),
        (CustomerOutputSerializer, order_selectors.customer_list()),
    ]
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        for cls, queryset in cases:
            columns, _, plan = core_serializers.values_plan(cls)
            instances = list(queryset.order_by("pk"))
            serializer = cls(list(queryset.order_by("pk").values(*columns)), many=True)
            serializer.child.read_values(plan)
            assert serializer.data == drf_way(cls, instances), (cls, zone)


def test_a_naive_datetime_in_a_values_row_is_drfs(rows):
    columns, _, plan = core_serializers.values_plan(ProductOutputSerializer)
    product = Product.objects.select_related("category").exclude(category=None).first()
    row = Product.objects.filter(pk=product.pk).values(*columns).get()
    row["created"] = product.created = datetime.datetime(2026, 1, 2, 3, 4, 5)
    serializer = ProductOutputSerializer([row], many=True)
    serializer.child.read_values(plan)
    assert serializer.data == drf_way(ProductOutputSerializer, [product])


def test_no_values_plan_for_fields_that_are_not_columns():
    class WithSource(OutputModelSerializer):
        category_name = serializers.CharField(source="category.name", default=None)

        class Meta:
            model = Product
            fields = ["id", "category_name"]

    assert core_serializers.values_plan(WithSource) is None
    assert core_serializers.values_plan(OrderDetailSerializer) is None  # items: a list
    assert core_serializers.values_plan(serializers.Serializer) is None
