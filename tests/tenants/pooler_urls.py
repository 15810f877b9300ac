"""Tenant URLconf of the pooler tests' gunicorn: the real one plus views that probe where
a request's statements land, fail part-way through, or hold a server connection."""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenant_apps.catalog.models import Product


def _current_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


class WhereApi(APIView):
    """The schema the request's statements really run in (asked twice, a write between)."""

    def get(self, request: Request) -> Response:
        first = _current_schema()
        names = list(Product.objects.order_by("pk").values_list("name", flat=True)[:5])
        return Response({"schemas": [first, _current_schema()], "names": names})


class FailMidwayApi(APIView):
    """Writes a product, then crashes: the write must be rolled back, and the next request
    on this connection must still route right."""

    def post(self, request: Request) -> Response:
        Product.objects.create(name=request.data["name"], slug=request.data["name"], price=1)
        raise RuntimeError("fails mid-way on purpose (pooler tests)")


class StatementFailsApi(APIView):
    """A statement fails part-way through the request; the view recovers and answers."""

    def get(self, request: Request) -> Response:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        except DatabaseError:
            pass
        return Response({"schemas": [_current_schema()]})


class HoldApi(APIView):
    """Keeps the request's transaction (so its server connection) for a while."""

    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s)", [float(request.query_params["seconds"])])
        return Response({"schemas": [_current_schema()]})


urlpatterns = [
    path("api/v1/pooler-test/where/", WhereApi.as_view()),
    path("api/v1/pooler-test/fail-midway/", FailMidwayApi.as_view()),
    path("api/v1/pooler-test/statement-fails/", StatementFailsApi.as_view()),
    path("api/v1/pooler-test/hold/", HoldApi.as_view()),
    path("", include("config.urls_tenant")),
]
