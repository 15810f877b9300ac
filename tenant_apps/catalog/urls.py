from rest_framework.routers import SimpleRouter

from tenant_apps.catalog.apis import CategoryViewSet, ProductViewSet

router = SimpleRouter(use_regex_path=False)
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
urlpatterns = router.urls
