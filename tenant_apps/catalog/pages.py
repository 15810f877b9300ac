"""Catalog pages: the product list (search, filters, pages), create, edit, archive.

Each page calls the same selector or service as ``tenant_apps.catalog.apis`` and
filters with the API's own ``ProductFilter``.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect

from shared_apps.core.errors import TesseraError
from shared_apps.core.pages import (
    SearchForm,
    TenantPageView,
    form_failed,
    label_filters,
    paginate,
    query_without_page,
    search,
)
from shared_apps.organizations.roles import Role
from tenant_apps.catalog import selectors, services
from tenant_apps.catalog.apis import ProductViewSet
from tenant_apps.catalog.filters import ProductFilter
from tenant_apps.catalog.forms import ProductForm
from tenant_apps.catalog.models import Product


class ProductListPage(TenantPageView):
    template_name = "app/products/list.html"
    nav = "products"

    def get(self, request, *args, **kwargs):
        search_form = SearchForm(request.GET)
        filters = label_filters(
            ProductFilter(request.GET, queryset=selectors.product_list()),
            category="All categories",
            status="Any status",
        )
        if not (search_form.is_valid() and filters.is_valid()):
            return self.render_page(status=400, search_form=search_form, filters=filters, page=None)
        products = search(
            filters.qs, ProductViewSet.search_fields, search_form.cleaned_data["search"]
        ).order_by(*ProductViewSet.ordering, "-id")
        return self.render_page(
            search_form=search_form,
            filters=filters,
            page=paginate(request, products),
            query=query_without_page(request),
        )


class ProductCreatePage(TenantPageView):
    read_role = Role.MEMBER  # a form for writers only
    template_name = "app/products/form.html"
    nav = "products"

    def get(self, request, *args, **kwargs):
        return self.render_page(form=ProductForm(), product=None)

    def post(self, request, *args, **kwargs):
        form = ProductForm(request.POST)
        if not form.is_valid():
            return self.render_page(form=form, product=None, status=400)
        try:
            product = services.product_create(**form.cleaned_data, acting_user=request.user)
        except TesseraError as exc:
            return self.render_page(form=form, product=None, status=form_failed(form, exc))
        messages.success(request, f"Product “{product.name}” created.")
        return redirect("app:product-list")


class ProductEditPage(TenantPageView):
    template_name = "app/products/form.html"
    nav = "products"

    def product(self) -> Product:
        return get_object_or_404(selectors.product_list(), pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        product = self.product()
        initial = {
            "name": product.name,
            "price": product.price,
            "stock": product.stock,
            "status": product.status,
            "category": product.category_id,
            "description": product.description,
        }
        return self.render_page(form=ProductForm(initial=initial), product=product)

    def post(self, request, *args, **kwargs):
        product = self.product()
        form = ProductForm(request.POST)
        if not form.is_valid():
            return self.render_page(form=form, product=product, status=400)
        try:
            services.product_update(
                product=product, data=form.cleaned_data, acting_user=request.user
            )
        except TesseraError as exc:
            return self.render_page(form=form, product=product, status=form_failed(form, exc))
        messages.success(request, f"Product “{form.cleaned_data['name']}” saved.")
        return redirect("app:product-list")


class ProductArchiveAction(TenantPageView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        product = get_object_or_404(selectors.product_list(), pk=self.kwargs["pk"])
        services.product_archive(product=product, acting_user=request.user)
        messages.success(request, f"Product “{product.name}” archived.")
        return redirect("app:product-list")
