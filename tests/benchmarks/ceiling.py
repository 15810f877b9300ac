"""The ceiling of ``make bench``: the products list as plain Django serves it.

SPEC §9 measures the products list against "a plain-Django view returning the same 20
rows as JSON (no DRF, no auth)". This is that view: the same 20 rows (the newest
products, each with its category's id, name and slug) from the same tables, read with
one ``.values()`` query and returned with ``JsonResponse`` -- no DRF, no authentication,
no tenancy, no middleware (``tests.benchmarks.settings.ceiling``), under the same
gunicorn and ``wrk`` as the products list. What it costs is what Django itself costs
for this response; the ratio says how much of that the whole product keeps.

Benchmark code only: the product's URLconfs never include it.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from tenant_apps.catalog.models import Product

FIELDS = (
    "id",
    "name",
    "slug",
    "description",
    "price",
    "stock",
    "status",
    "category_id",
    "category__name",
    "category__slug",
    "created",
    "updated",
)


def products(request: HttpRequest) -> JsonResponse:
    rows = list(Product.objects.order_by("-created", "-id").values(*FIELDS)[:20])
    return JsonResponse({"results": rows})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


PATH = "/ceiling/products/"
urlpatterns = [path(PATH.strip("/") + "/", products), path("healthz", healthz)]
