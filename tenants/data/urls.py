from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.data.apis import OrganizationDeletionApi, OrganizationExportViewSet

router = SimpleRouter(use_regex_path=False)
router.register("organization/export", OrganizationExportViewSet, basename="organization-export")
urlpatterns = [
    *router.urls,
    path("organization/deletion/", OrganizationDeletionApi.as_view(), name="organization-deletion"),
]
