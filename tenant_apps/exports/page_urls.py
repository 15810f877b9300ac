from django.urls import path

from tenant_apps.exports import pages

urlpatterns = [
    path("exports/", pages.ExportListPage.as_view(), name="export-list"),
    path("exports/<int:pk>/row/", pages.ExportRowFragment.as_view(), name="export-row"),
]
