"""Gates in front of the web app for a signed-in member (HTML pages only; the API answers
for itself, and the account pages stay reachable so the member can comply):

* the tenant requires MFA and the member has none: sent to the TOTP set-up;
* the sign-up email is still unverified after ``EMAIL_VERIFICATION_GRACE_DAYS``: sent to
  the email page, which resends the link.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from shared_apps.accounts.selectors import email_verification_state, mfa_setup_required

TOTP_SETUP_PATH = "/accounts/mfa/totp/activate/"
EMAIL_PATH = "/accounts/email/"
UNGATED_PREFIXES = ("/accounts/", "/api/", "/static/", "/healthz", "/readyz")


class AccountGatesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        redirect = self._gate(request)
        return redirect if redirect is not None else self.get_response(request)

    @staticmethod
    def _gate(request: HttpRequest) -> HttpResponse | None:
        # The path first: on the API (every request there) nothing else is looked at,
        # and the session user is not loaded just to be let through.
        if request.path.startswith(UNGATED_PREFIXES):
            return None
        tenant = getattr(request, "tenant", None)
        user = getattr(request, "user", None)
        if tenant is None or user is None or not user.is_authenticated:
            return None
        if getattr(request, "support_access", None) is not None:
            return None  # support access: the member's own set-up is not theirs to do
        if mfa_setup_required(user=user, tenant=tenant):
            return HttpResponseRedirect(TOTP_SETUP_PATH)
        if email_verification_state(user=user).overdue:
            return HttpResponseRedirect(EMAIL_PATH)
        return None
