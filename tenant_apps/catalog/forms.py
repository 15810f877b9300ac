"""Forms of the catalog pages: input shapes only (the rules are the services')."""

from __future__ import annotations

from django import forms

from tenant_apps.catalog.models import Category, ProductStatus
from tenant_apps.catalog.selectors import category_list
from tenant_apps.catalog.serializers import MAX_STOCK


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200)
    price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    stock = forms.IntegerField(min_value=0, max_value=MAX_STOCK, initial=0)
    status = forms.ChoiceField(choices=ProductStatus.choices, initial=ProductStatus.DRAFT)
    category = forms.ModelChoiceField(
        queryset=Category.objects.none(), required=False, empty_label="No category"
    )
    description = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = category_list()  # type: ignore[attr-defined]
