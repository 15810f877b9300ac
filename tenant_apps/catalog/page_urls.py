from django.urls import path

from tenant_apps.catalog import pages

urlpatterns = [
    path("products/", pages.ProductListPage.as_view(), name="product-list"),
    path("products/new/", pages.ProductCreatePage.as_view(), name="product-create"),
    path("products/<int:pk>/", pages.ProductEditPage.as_view(), name="product-edit"),
    path(
        "products/<int:pk>/archive/", pages.ProductArchiveAction.as_view(), name="product-archive"
    ),
]
