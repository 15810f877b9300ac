"""Tenant-host billing endpoints. They stay writable for read-only tenants: an owner of a
suspended tenant must be able to pay."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing import services
from billing.selectors import billing_overview
from billing.serializers import (
    BillingOverviewSerializer,
    CheckoutInputSerializer,
    SessionUrlSerializer,
)
from shared_apps.core.openapi import ErrorSerializer
from shared_apps.core.viewsets import TenantAPIView
from shared_apps.organizations.roles import Role

STRIPE_ERRORS = {
    502: OpenApiResponse(ErrorSerializer, description="Stripe refused the request (stripe_error)."),
    503: OpenApiResponse(
        ErrorSerializer,
        description="billing_disabled (no Stripe keys) or stripe_unavailable (Stripe unreachable).",
    ),
}


def _app_url(request: Request, path: str = "/api/v1/billing/") -> str:
    return request.build_absolute_uri(path)


class BillingApi(TenantAPIView):
    @extend_schema(responses=BillingOverviewSerializer)
    def get(self, request: Request) -> Response:
        return Response(
            BillingOverviewSerializer(billing_overview(tenant=self.tenant, detail=True)).data
        )


class CheckoutApi(TenantAPIView):
    write_role = Role.OWNER
    writes_allowed_when_read_only = True

    @extend_schema(
        request=CheckoutInputSerializer, responses={200: SessionUrlSerializer, **STRIPE_ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = CheckoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.checkout_session_create(
            tenant=self.tenant,
            plan_code=data.validated_data["plan"],
            success_url=_app_url(request) + "?checkout=success",
            cancel_url=_app_url(request) + "?checkout=canceled",
            request_key=request.headers.get("Idempotency-Key"),
        )
        return Response({"url": session.url})


class PortalApi(TenantAPIView):
    write_role = Role.OWNER
    writes_allowed_when_read_only = True

    @extend_schema(request=None, responses={200: SessionUrlSerializer, **STRIPE_ERRORS})
    def post(self, request: Request) -> Response:
        session = services.portal_session_create(
            tenant=self.tenant,
            return_url=_app_url(request),
            request_key=request.headers.get("Idempotency-Key"),
        )
        return Response({"url": session.url})
