from rest_framework.routers import SimpleRouter

from tenant_apps.orders.apis import CustomerViewSet, OrderViewSet

router = SimpleRouter(use_regex_path=False)
router.register("customers", CustomerViewSet, basename="customer")
router.register("orders", OrderViewSet, basename="order")
urlpatterns = router.urls
