"""Forms of the customer and order pages: input shapes only (the rules are the services')."""

from __future__ import annotations

from django import forms

from tenant_apps.catalog.models import Product, ProductStatus
from tenant_apps.catalog.selectors import product_list
from tenant_apps.orders.models import Customer
from tenant_apps.orders.selectors import customer_list
from tenant_apps.orders.serializers import MAX_QUANTITY

MAX_LINES = 50


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(max_length=254)


class ProductChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Product) -> str:  # type: ignore[override]
        return f"{obj.name} — {obj.price} ({obj.stock} in stock)"


class OrderForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), empty_label="Choose…")
    notes = forms.CharField(
        required=False, max_length=5_000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customer_list().order_by("name")  # type: ignore[attr-defined]


class OrderLineForm(forms.Form):
    # Offered: the products on sale; whether a product may be ordered is order_create's
    # rule (a product archived meanwhile is refused there, with its message).
    product = ProductChoice(queryset=Product.objects.none(), required=False, empty_label="Product…")
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False, initial=1)

    def __init__(self, *args, product_choices: list[tuple] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["product"]
        field.queryset = product_list()  # type: ignore[attr-defined]
        field.choices = product_choices or line_product_choices()  # type: ignore[attr-defined]

    def clean(self):
        data = super().clean() or {}
        if data.get("product") and not data.get("quantity"):
            self.add_error("quantity", "Give a quantity.")
        return data


def line_product_choices() -> list[tuple]:
    """The products offered on an order line (one query, shared by every line)."""
    label = ProductChoice.label_from_instance
    return [
        ("", "Product…"),
        *(
            (product.pk, label(None, product))  # type: ignore[arg-type]
            for product in product_list().filter(status=ProductStatus.ACTIVE)
        ),
    ]


OrderLineFormSet = forms.formset_factory(
    OrderLineForm, extra=0, min_num=1, max_num=MAX_LINES, absolute_max=MAX_LINES, validate_max=True
)


def order_items(formset) -> list[dict]:
    """The lines that name a product, as ``order_create`` takes them."""
    return [
        {"product": form.cleaned_data["product"], "quantity": form.cleaned_data["quantity"]}
        for form in formset.forms
        if form.cleaned_data.get("product")
    ]
