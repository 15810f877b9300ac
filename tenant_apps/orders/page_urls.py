from django.urls import path

from tenant_apps.orders import pages

urlpatterns = [
    path("customers/", pages.CustomerListPage.as_view(), name="customer-list"),
    path("customers/new/", pages.CustomerFormPage.as_view(), name="customer-create"),
    path("customers/<int:pk>/", pages.CustomerFormPage.as_view(), name="customer-edit"),
    path("orders/", pages.OrderListPage.as_view(), name="order-list"),
    path("orders/new/", pages.OrderCreatePage.as_view(), name="order-create"),
    path("orders/<int:pk>/", pages.OrderDetailPage.as_view(), name="order-detail"),
    *(
        path(
            f"orders/<int:pk>/{transition}/",
            pages.OrderTransitionAction.as_view(),
            {"transition": transition},
            name=f"order-{transition}",
        )
        for transition in pages.OrderTransitionAction.transitions
    ),
]
