"""Customer and order pages, through the selectors and services the API uses.

The order form has N line rows (a formset). "Add a line" is a submit button: without
JavaScript it posts the form and gets it back with one more row; with htmx the same
request swaps only the form (``#order-form`` partial), so both paths share one view
and one template.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect

from shared_apps.core.errors import TesseraError
from shared_apps.core.pages import (
    SearchForm,
    TenantPageView,
    form_failed,
    paginate,
    query_without_page,
    search,
)
from shared_apps.organizations.roles import Role
from tenant_apps.orders import selectors, services
from tenant_apps.orders.apis import CustomerViewSet, OrderViewSet
from tenant_apps.orders.filters import OrderFilter
from tenant_apps.orders.forms import (
    MAX_LINES,
    CustomerForm,
    OrderForm,
    OrderLineFormSet,
    line_product_choices,
    order_items,
)
from tenant_apps.orders.models import Customer, Order, OrderStatus

# Customers -------------------------------------------------------------------------------


class CustomerListPage(TenantPageView):
    template_name = "app/customers/list.html"
    nav = "customers"

    def get(self, request, *args, **kwargs):
        search_form = SearchForm(request.GET)
        if not search_form.is_valid():
            return self.render_page(status=400, search_form=search_form, page=None)
        customers = search(
            selectors.customer_list(),
            CustomerViewSet.search_fields,
            search_form.cleaned_data["search"],
        ).order_by("name", "id")
        return self.render_page(
            search_form=search_form,
            page=paginate(request, customers),
            query=query_without_page(request),
        )


class CustomerFormPage(TenantPageView):
    template_name = "app/customers/form.html"
    nav = "customers"

    def customer(self) -> Customer | None:
        if "pk" not in self.kwargs:
            return None
        return get_object_or_404(selectors.customer_list(), pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        customer = self.customer()
        initial = {"name": customer.name, "email": customer.email} if customer else None
        return self.render_page(form=CustomerForm(initial=initial), customer=customer)

    def post(self, request, *args, **kwargs):
        customer = self.customer()
        form = CustomerForm(request.POST)
        if not form.is_valid():
            return self.render_page(form=form, customer=customer, status=400)
        try:
            if customer is None:
                customer = services.customer_create(**form.cleaned_data, acting_user=request.user)
            else:
                services.customer_update(
                    customer=customer, data=dict(form.cleaned_data), acting_user=request.user
                )
        except TesseraError as exc:
            return self.render_page(form=form, customer=customer, status=form_failed(form, exc))
        messages.success(request, f"Customer “{form.cleaned_data['name']}” saved.")
        return redirect("app:customer-list")


# Orders ----------------------------------------------------------------------------------


class OrderListPage(TenantPageView):
    template_name = "app/orders/list.html"
    nav = "orders"

    def get(self, request, *args, **kwargs):
        search_form = SearchForm(request.GET)
        filters = OrderFilter(request.GET, queryset=selectors.order_list())
        if not (search_form.is_valid() and filters.is_valid()):
            return self.render_page(status=400, search_form=search_form, filters=filters, page=None)
        orders = search(
            filters.qs, OrderViewSet.search_fields, search_form.cleaned_data["search"]
        ).order_by("-created", "-id")
        return self.render_page(
            search_form=search_form,
            filters=filters,
            statuses=OrderStatus.choices,
            current_status=filters.form.cleaned_data.get("status") or "",
            page=paginate(request, orders),
            query=query_without_page(request),
        )


class OrderCreatePage(TenantPageView):
    read_role = Role.MEMBER  # a form for writers only
    template_name = "app/orders/create.html"
    nav = "orders"

    def forms(self, data=None):
        choices = line_product_choices()
        form = OrderForm(data)
        lines = OrderLineFormSet(data, prefix="lines", form_kwargs={"product_choices": choices})
        return form, lines

    def forms_with_another_line(self, data):
        """Unbound forms showing what was entered, plus one empty line (no errors yet:
        nothing was submitted)."""
        choices = line_product_choices()
        try:
            count = min(int(data.get("lines-TOTAL_FORMS", "1")), MAX_LINES - 1)
        except ValueError:
            count = 1
        initial = [
            {
                "product": data.get(f"lines-{i}-product", "")[:20],
                "quantity": data.get(f"lines-{i}-quantity", "")[:20],
            }
            for i in range(max(count, 0))
        ]
        lines = OrderLineFormSet(
            prefix="lines",
            initial=[*initial, {"quantity": 1}],
            form_kwargs={"product_choices": choices},
        )
        form = OrderForm(
            initial={"customer": data.get("customer", "")[:20], "notes": data.get("notes", "")}
        )
        return form, lines

    def render_form(self, form, lines, *, status: int = 200):
        template = self.template_name
        if self.request.htmx:  # type: ignore[attr-defined]
            template += "#order-form"
        return self.render_page(template, form=form, lines=lines, status=status)

    def get(self, request, *args, **kwargs):
        form, lines = self.forms()
        return self.render_form(form, lines)

    def post(self, request, *args, **kwargs):
        if "add_line" in request.POST:
            return self.render_form(*self.forms_with_another_line(request.POST))
        form, lines = self.forms(request.POST)
        if not (form.is_valid() and lines.is_valid()):
            return self.render_form(form, lines, status=400)
        items = order_items(lines)
        if not items:
            form.add_error(None, "Add at least one line with a product.")
            return self.render_form(form, lines, status=400)
        try:
            order = services.order_create(
                customer=form.cleaned_data["customer"],
                items=items,
                notes=form.cleaned_data["notes"],
                acting_user=request.user,
            )
        except TesseraError as exc:
            names = {str(item["product"].pk): item["product"].name for item in items}
            return self.render_form(form, lines, status=form_failed(form, exc, labels=names))
        messages.success(request, f"Order {order.pk} placed.")
        return redirect("app:order-detail", pk=order.pk)


class OrderDetailPage(TenantPageView):
    template_name = "app/orders/detail.html"
    nav = "orders"

    def get(self, request, *args, **kwargs):
        order = get_object_or_404(selectors.order_detail_queryset(), pk=self.kwargs["pk"])
        return self.render_page(order=order)


class OrderTransitionAction(TenantPageView):
    """Cancel, mark paid or refund: one service each, as ``OrderViewSet``'s actions."""

    http_method_names = ["post"]
    transitions = {
        "cancel": (services.order_cancel, "canceled"),
        "mark-paid": (services.order_mark_paid, "marked paid"),
        "refund": (services.order_refund, "refunded"),
    }

    def post(self, request, *args, **kwargs):
        order: Order = get_object_or_404(selectors.order_list(), pk=self.kwargs["pk"])
        service, done = self.transitions[self.kwargs["transition"]]
        service(order=order, acting_user=request.user)  # a conflict is a 409 page
        messages.success(request, f"Order {order.pk} {done}.")
        return redirect("app:order-detail", pk=order.pk)
