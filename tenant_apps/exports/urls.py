from rest_framework.routers import SimpleRouter

from tenant_apps.exports.apis import ExportViewSet

router = SimpleRouter(use_regex_path=False)
router.register("exports", ExportViewSet, basename="export")
urlpatterns = router.urls
