"""URLs of the root domain (public schema)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from billing.webhooks import StripeWebhookApi
from shared_apps.accounts.urls import public_urlpatterns as account_urlpatterns
from tenants.apis import SignupApi
from tenants.views import landing, signup

handler400 = "shared_apps.core.views.bad_request"
handler404 = "shared_apps.core.views.not_found"
handler500 = "shared_apps.core.views.server_error"

urlpatterns = [
    path("", landing, name="landing"),
    path("signup/", signup, name="signup"),
    path("api/v1/signup/", SignupApi.as_view(), name="api-signup"),
    path("billing/stripe/webhook/", StripeWebhookApi.as_view(), name="stripe-webhook"),
    path(settings.DJANGO_ADMIN_URL, admin.site.urls),
    # The platform admin's sign-in with its TOTP step (superusers only; ADR 0018).
    path("accounts/", include(account_urlpatterns)),
]
