"""Tenant URLconf for the ops tests: the real one plus views that fail on purpose."""

from __future__ import annotations

import logging

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger("tests.ops")


class BoomApi(APIView):
    """Authenticated tenant endpoint that logs a line, then crashes."""

    def get(self, request: Request) -> Response:
        logger.info("about to fail")
        raise RuntimeError("boom for the ops tests")


class LogApi(APIView):
    def get(self, request: Request) -> Response:
        logger.info("inside the view")
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/ops-test/boom/", BoomApi.as_view()),
    path("api/v1/ops-test/log/", LogApi.as_view()),
    path("", include("config.urls_tenant")),
]
