"""Tenant-host auth endpoints and ``me``; the public sign-up endpoint."""

from __future__ import annotations

from django.contrib.auth import login, logout
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.core.errors import ErrorCode
from shared_apps.core.lockout import login_authenticate
from shared_apps.core.viewsets import TenantAPIView
from shared_apps.organizations.selectors import membership_for
from tenants.authentication import (
    BAD_CREDENTIALS,
    CredentialsInBody,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from tenants.permissions import PublicEndpoint
from tenants.provisioning import tenant_provision
from tenants.selectors import tenant_primary_host, tenant_url
from tenants.serializers import (
    MeOutputSerializer,
    SessionLoginSerializer,
    SignupInputSerializer,
    SignupOutputSerializer,
)


def user_data(user) -> dict:
    return {"id": user.pk, "email": user.email, "full_name": user.full_name}


class TenantPublicAPIView(TenantAPIView):
    """Tenant-host endpoints for clients who are not signed in yet (token, session login)."""

    dangerously_public = "signs a client in: the credentials are in the body"
    authentication_classes = [CredentialsInBody]
    throttle_scope = "login"


class TokenObtainApi(TenantPublicAPIView):
    @extend_schema(request=TokenObtainSerializer, responses=TokenObtainSerializer, auth=[])
    def post(self, request: Request) -> Response:
        serializer = TokenObtainSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class TokenRefreshApi(TenantPublicAPIView):
    @extend_schema(request=TokenRefreshSerializer, responses=TokenRefreshSerializer, auth=[])
    def post(self, request: Request) -> Response:
        serializer = TokenRefreshSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class SessionApi(TenantPublicAPIView):
    """Session login for browsers. Sessions are stored in the tenant's own schema."""

    @extend_schema(request=SessionLoginSerializer, responses=MeOutputSerializer, auth=[])
    def post(self, request: Request) -> Response:
        serializer = SessionLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = self.tenant
        user = login_authenticate(
            request._request,
            email=serializer.validated_data["email"],
            password=serializer.validated_data["password"],
        )
        if user is None or membership_for(user_id=user.pk, tenant=tenant) is None:
            raise exceptions.AuthenticationFailed(
                BAD_CREDENTIALS, code=ErrorCode.AUTHENTICATION_FAILED
            )
        login(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None}, auth=[])
    def delete(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(TenantAPIView):
    @extend_schema(responses=MeOutputSerializer)
    def get(self, request: Request) -> Response:
        tenant = self.tenant
        membership = self.membership
        host = getattr(tenant, "domain_url", None) or tenant_primary_host(tenant=tenant) or ""
        data = {
            "user": user_data(request.user),
            "role": membership.role.value,
            "tenant": {
                "name": tenant.name,
                "subdomain": tenant.subdomain,
                "url": tenant_url(host=host, request=request),
                "status": tenant.status,
                "plan": tenant.plan.code,
                "read_only": tenant.is_read_only,
            },
        }
        return Response(MeOutputSerializer(data).data)


class SignupApi(APIView):
    """Public host: create a tenant and its owner (SPEC §3)."""

    authentication_classes = [CredentialsInBody]
    permission_classes = [PublicEndpoint]
    throttle_scope = "signup"

    @extend_schema(request=SignupInputSerializer, responses={201: SignupOutputSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = SignupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        provisioned = tenant_provision(
            name=data["name"],
            subdomain=data["subdomain"],
            owner_email=data["email"],
            owner_password=data["password"],
            plan_code=data.get("plan") or None,
        )
        body = signup_result(provisioned, request=request)
        return Response(SignupOutputSerializer(body).data, status=status.HTTP_201_CREATED)


def signup_result(provisioned, *, request) -> dict:
    host = provisioned.domain.domain
    return {
        "tenant": {
            "subdomain": provisioned.tenant.subdomain,
            "url": tenant_url(host=host, request=request),
            "status": provisioned.tenant.status,
            "plan": provisioned.tenant.plan.code,
        },
        "user": user_data(provisioned.user),
    }
