from rest_framework.routers import SimpleRouter

from tenant_apps.audit.apis import AuditLogViewSet

router = SimpleRouter(use_regex_path=False)
router.register("audit-log", AuditLogViewSet, basename="audit-log")
urlpatterns = router.urls
