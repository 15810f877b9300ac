"""Public-host HTML pages: landing and sign-up (server-rendered, no JavaScript needed)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from shared_apps.core.errors import TesseraError
from tenants.apis import signup_result
from tenants.forms import SignupForm
from tenants.provisioning import tenant_provision


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/landing.html", {"root_domain": settings.ROOT_DOMAIN})


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            provisioned = tenant_provision(
                name=data["name"],
                subdomain=data["subdomain"],
                owner_email=data["email"],
                owner_password=data["password"],
                plan_code=data["plan"],
                request=request,
            )
        except TesseraError as exc:
            form.add_service_errors(exc.fields, exc.message)
        else:
            result = signup_result(provisioned, request=request)
            return render(request, "tenants/signup_done.html", {"result": result}, status=201)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "tenants/signup.html",
        {"form": form, "root_domain": settings.ROOT_DOMAIN},
        status=status,
    )
