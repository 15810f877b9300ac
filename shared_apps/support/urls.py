"""Support access on every tenant host (ADR 0024)."""

from django.urls import path

from shared_apps.support import pages

urlpatterns = [
    path("support/start/", pages.SupportRedeemPage.as_view(), name="support-redeem"),
    path("support/end/", pages.SupportEndAction.as_view(), name="support-end"),
    path("support/ended/", pages.SupportEndedPage.as_view(), name="support-ended"),
    path("app/settings/support/", pages.SupportPolicyAction.as_view(), name="settings-support"),
]
