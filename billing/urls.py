from django.urls import path

from billing.apis import BillingApi, CheckoutApi, PortalApi

urlpatterns = [
    path("billing/", BillingApi.as_view(), name="billing"),
    path("billing/checkout/", CheckoutApi.as_view(), name="billing-checkout"),
    path("billing/portal/", PortalApi.as_view(), name="billing-portal"),
]
