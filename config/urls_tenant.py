"""URLs of every tenant host (the tenant's schema is active)."""

from django.urls import URLPattern, URLResolver, include, path

from shared_apps.core.apidocs import SchemaApi, SwaggerDocsView
from shared_apps.core.views import FrontDoorView
from tenants.apis import MeApi, SessionApi, TokenObtainApi, TokenRefreshApi

handler400 = "shared_apps.core.views.bad_request"
handler404 = "shared_apps.core.views.not_found"
handler500 = "shared_apps.core.views.server_error"

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/session/", SessionApi.as_view(), name="session"),
    path("me/", MeApi.as_view(), name="me"),
    path("", include("shared_apps.organizations.urls")),
    path("", include("tenant_apps.catalog.urls")),
    path("", include("tenant_apps.orders.urls")),
    path("", include("tenant_apps.exports.urls")),
    path("", include("tenant_apps.audit.urls")),
    path("", include("billing.urls")),
    path("schema/", SchemaApi.as_view(), name="schema"),
    # The split view serves its init script from this URL: no inline script (CSP).
    path("docs/", SwaggerDocsView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("", FrontDoorView.as_view()),
    path("api/v1/", include(api_v1)),
]
