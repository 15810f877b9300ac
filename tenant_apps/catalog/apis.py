from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from shared_apps.core.viewsets import TenantCrudViewSet
from tenant_apps.catalog import selectors, services
from tenant_apps.catalog.filters import CategoryFilter, ProductFilter
from tenant_apps.catalog.serializers import (
    CategoryBriefSerializer,
    CategoryInputSerializer,
    CategoryOutputSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
)

LIST_COLUMNS = (
    *(f for f in ProductOutputSerializer.Meta.fields if f != "category"),
    *(f"category__{f}" for f in CategoryBriefSerializer.Meta.fields),
)


class CategoryViewSet(TenantCrudViewSet):
    output_serializer_class = CategoryOutputSerializer
    input_serializer_class = CategoryInputSerializer
    filterset_class = CategoryFilter
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "created"]
    ordering = ["name"]

    def select(self):
        return selectors.category_list()

    def create_object(self, data):
        return services.category_create(**data, acting_user=self.acting_user)

    def update_object(self, obj, data):
        return services.category_update(category=obj, data=data, acting_user=self.acting_user)

    def delete_object(self, obj):
        services.category_delete(category=obj, acting_user=self.acting_user)


class ProductViewSet(TenantCrudViewSet):
    output_serializer_class = ProductOutputSerializer
    input_serializer_class = ProductInputSerializer
    filterset_class = ProductFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "price", "stock", "created"]
    ordering = ["-created"]

    def select(self):
        if self.action == "list":  # only what the list writes (the category in brief)
            return selectors.product_list().only(*LIST_COLUMNS)
        return selectors.product_list()

    def create_object(self, data):
        return services.product_create(**data, acting_user=self.acting_user)

    def update_object(self, obj, data):
        return services.product_update(product=obj, data=data, acting_user=self.acting_user)

    def delete_object(self, obj):
        services.product_delete(product=obj, acting_user=self.acting_user)

    @extend_schema(request=None, responses=ProductOutputSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self.render(
            services.product_archive(product=self.get_object(), acting_user=request.user)
        )
