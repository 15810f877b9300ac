from django.urls import path

from billing import pages

urlpatterns = [
    path("billing/", pages.BillingPage.as_view(), name="billing"),
    path("billing/checkout/", pages.CheckoutAction.as_view(), name="billing-checkout"),
    path("billing/portal/", pages.PortalAction.as_view(), name="billing-portal"),
]
