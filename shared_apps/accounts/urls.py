"""allauth's pages under ``/accounts/`` (ADR 0018).

Tenant hosts get the whole account lifecycle. The public host serves only what the
platform admin's sign-in needs (login with the TOTP step, logout, MFA set-up): the
adapter lets only superusers sign in there, and sign-up is the public ``/signup/``.
"""

from allauth.account import views as account_views
from django.urls import include, path

urlpatterns = [
    path("", include("allauth.account.urls")),
    path("mfa/", include("allauth.mfa.urls")),
]

public_urlpatterns = [
    path("login/", account_views.login, name="account_login"),
    path("logout/", account_views.logout, name="account_logout"),
    path("reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("password/change/", account_views.password_change, name="account_change_password"),
    path("email/", account_views.email, name="account_email"),
    path("mfa/", include("allauth.mfa.urls")),
]
