"""Tenant URLconf of the read-replica tests' gunicorn: the real one plus a view that says
which server the request's reads ran on."""

from __future__ import annotations

from django.db import connections, router
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenant_apps.catalog.models import Product


class ReadsFromApi(APIView):
    """The server the ORM's reads of this request went to (``pg_is_in_recovery()`` and the
    port, asked on that very connection, in the same transaction as the ORM query), the
    schema they ran in, and the product names they saw."""

    def get(self, request: Request) -> Response:
        names = list(Product.objects.order_by("pk").values_list("name", flat=True))
        alias = router.db_for_read(Product)
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), current_setting('port')::int, current_schema()"
            )
            in_recovery, port, schema = cursor.fetchone()
        return Response(
            {
                "alias": alias,
                "in_recovery": in_recovery,
                "port": port,
                "schema": schema,
                "names": names,
            }
        )


urlpatterns = [
    path("api/v1/replica-test/reads-from/", ReadsFromApi.as_view()),
    path("", include("config.urls_tenant")),
]
