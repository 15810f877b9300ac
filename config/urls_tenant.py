"""URLs of every tenant host (the tenant's schema is active)."""

from django.urls import URLPattern, URLResolver, include, path

from shared_apps.accounts.views import MfaRequirementPage
from shared_apps.core.apidocs import SchemaApi, SwaggerDocsView
from shared_apps.organizations.pages import InvitationAcceptPage
from tenants.apis import (
    MeApi,
    MfaRequirementApi,
    PasswordResetApi,
    PasswordResetConfirmApi,
    SessionApi,
    TokenObtainApi,
    TokenRefreshApi,
    TotpApi,
    TotpConfirmApi,
)
from tenants.pages import DashboardPage

handler400 = "shared_apps.core.views.bad_request"
handler404 = "shared_apps.core.views.not_found"
handler500 = "shared_apps.core.views.server_error"

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/session/", SessionApi.as_view(), name="session"),
    path("auth/password/reset/", PasswordResetApi.as_view(), name="password-reset"),
    path(
        "auth/password/reset/confirm/",
        PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
    path("me/", MeApi.as_view(), name="me"),
    path("me/mfa/totp/", TotpApi.as_view(), name="me-mfa-totp"),
    path("me/mfa/totp/confirm/", TotpConfirmApi.as_view(), name="me-mfa-totp-confirm"),
    path("security/mfa/", MfaRequirementApi.as_view(), name="security-mfa"),
    path("", include("shared_apps.organizations.urls")),
    path("", include("tenant_apps.catalog.urls")),
    path("", include("tenant_apps.orders.urls")),
    path("", include("tenant_apps.exports.urls")),
    path("", include("tenant_apps.audit.urls")),
    path("", include("tenant_apps.integrations.urls")),
    path("", include("billing.urls")),
    path("", include("tenants.data.urls")),
    path("schema/", SchemaApi.as_view(), name="schema"),
    # The split view serves its init script from this URL: no inline script (CSP).
    path("docs/", SwaggerDocsView.as_view(url_name="schema"), name="docs"),
]

# The web app (HTML, ADR 0019): every page goes through shared_apps.core.pages.
app_pages: list[URLPattern | URLResolver] = [
    path("", include("tenant_apps.catalog.page_urls")),
    path("", include("tenant_apps.orders.page_urls")),
    path("", include("tenant_apps.exports.page_urls")),
    path("", include("shared_apps.organizations.page_urls")),
    path("", include("billing.page_urls")),
    path("", include("tenant_apps.integrations.page_urls")),
]

urlpatterns = [
    path("", DashboardPage.as_view(), name="dashboard"),
    path("app/", include((app_pages, "app"))),
    path("invitations/accept/", InvitationAcceptPage.as_view(), name="invitation-accept-page"),
    path("api/v1/", include(api_v1)),
    # Login, logout, password reset and change, email, MFA: allauth's views with the
    # project's adapter, forms and templates (ADR 0018).
    path("accounts/", include("shared_apps.accounts.urls")),
    path("app/settings/mfa/", MfaRequirementPage.as_view(), name="settings-mfa"),
    # Support access (ADR 0024): the admin's hand-off, the end, the owners' switch.
    path("", include("shared_apps.support.urls")),
]
