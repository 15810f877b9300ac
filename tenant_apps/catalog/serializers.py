from rest_framework import serializers

from shared_apps.core.fields import StrictPrimaryKeyRelatedField
from shared_apps.core.serializers import OutputModelSerializer
from tenant_apps.catalog.models import Category, Product, ProductStatus

MAX_STOCK = 2_147_483_647


class CategoryInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=140, required=False)
    parent = StrictPrimaryKeyRelatedField(  # type: ignore[assignment]  # the JSON key
        queryset=Category.objects.all(), required=False, allow_null=True
    )


class CategoryOutputSerializer(OutputModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent", "created", "updated"]


class ProductInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=220, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, required=False)
    status = serializers.ChoiceField(choices=ProductStatus.choices, required=False)
    category = StrictPrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )


class CategoryBriefSerializer(OutputModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class ProductOutputSerializer(OutputModelSerializer):
    category = CategoryBriefSerializer(allow_null=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "price",
            "stock",
            "status",
            "category",
            "created",
            "updated",
        ]
