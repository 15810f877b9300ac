"""The billing page (owners): plan, status, usage, Stripe Checkout and customer portal.

Reachable while the tenant is suspended or canceled (``writes_allowed_when_read_only``,
as the billing API): paying is how an owner gets the tenant back. Checkout and the
portal are redirects (303) to the URLs ``billing.services`` gets from Stripe.
"""

from __future__ import annotations

from django import forms
from django.http import HttpResponseRedirect
from django.urls import reverse

from billing import services
from billing.selectors import billing_overview
from shared_apps.core.pages import TenantPageView
from shared_apps.organizations.roles import Role
from tenants.overview import usage_rows


class CheckoutForm(forms.Form):
    plan = forms.SlugField(max_length=32)


class BillingPage(TenantPageView):
    template_name = "app/billing.html"
    nav = "billing"
    read_role = Role.OWNER
    write_role = Role.OWNER
    writes_allowed_when_read_only = True

    def get(self, request, *args, **kwargs):
        overview = billing_overview(tenant=self.tenant, detail=True)
        return self.render_page(
            overview=overview,
            usage=usage_rows(overview),
            checkout=request.GET.get("checkout", "")[:20],
        )

    def page_url(self) -> str:
        return self.request.build_absolute_uri(reverse("app:billing"))


class CheckoutAction(BillingPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = CheckoutForm(request.POST)
        if not form.is_valid():
            overview = billing_overview(tenant=self.tenant, detail=True)
            return self.render_page(
                overview=overview, usage=usage_rows(overview), form_error=True, status=400
            )
        session = services.checkout_session_create(  # errors: the page of their status
            tenant=self.tenant,
            plan_code=form.cleaned_data["plan"],
            success_url=self.page_url() + "?checkout=success",
            cancel_url=self.page_url() + "?checkout=canceled",
        )
        return see_other(session.url)


class PortalAction(BillingPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        session = services.portal_session_create(tenant=self.tenant, return_url=self.page_url())
        return see_other(session.url)


def see_other(url: str) -> HttpResponseRedirect:
    """303: the browser follows with a GET (to Stripe's hosted page)."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response
