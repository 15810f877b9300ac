"""Tenant-host auth endpoints (token, session, password reset, the caller's MFA, the
tenant's MFA rule) and ``me``; the public sign-up endpoint."""

from __future__ import annotations

from django.contrib.auth import login, logout
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.accounts.models import User
from shared_apps.accounts.selectors import tenant_mfa_required
from shared_apps.accounts.services import (
    mfa_verify_for_token,
    password_reset_confirm,
    password_reset_request,
    tenant_mfa_requirement_set,
    totp_disable,
    totp_setup_begin,
    totp_setup_confirm,
)
from shared_apps.core.errors import ErrorCode
from shared_apps.core.lockout import login_authenticate
from shared_apps.core.viewsets import TenantAPIView
from shared_apps.organizations.roles import Role
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
    MfaCodeInputSerializer,
    MfaRequirementSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetInputSerializer,
    RecoveryCodesOutputSerializer,
    SessionLoginSerializer,
    SignupInputSerializer,
    SignupOutputSerializer,
    TotpSetupOutputSerializer,
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
            accept=lambda user: membership_for(user_id=user.pk, tenant=tenant) is not None,
        )
        if user is None:
            raise exceptions.AuthenticationFailed(
                BAD_CREDENTIALS, code=ErrorCode.AUTHENTICATION_FAILED
            )
        mfa_verify_for_token(
            request=request._request, user=user, otp=serializer.validated_data.get("otp")
        )
        login(request._request, user)  # a new session id (Django cycles it at login)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None}, auth=[])
    def delete(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(TenantPublicAPIView):
    """Mail a reset link for this host; 202 whatever the email (SPEC §3)."""

    @extend_schema(request=PasswordResetInputSerializer, responses={202: None}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = PasswordResetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_request(request=request._request, email=serializer.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(TenantPublicAPIView):
    """Set a new password with the mailed token: 204, or 400 ``invalid_token``."""

    @extend_schema(request=PasswordResetConfirmInputSerializer, responses={204: None}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_confirm(
            request=request._request,
            token=serializer.validated_data["token"],
            password=serializer.validated_data["password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def signed_in(request: Request) -> User:
    """The authenticated member (the default permission has already required one)."""
    assert isinstance(request.user, User)
    return request.user


class MeMfaApiView(TenantAPIView):
    """The caller's own second factor: any role, also while the tenant is read-only
    (securing an account is not a write to the tenant's data)."""

    read_role = Role.VIEWER
    write_role = Role.VIEWER
    writes_allowed_when_read_only = True
    throttle_scope = "login"


class TotpApi(MeMfaApiView):
    @extend_schema(request=None, responses={201: TotpSetupOutputSerializer})
    def post(self, request: Request) -> Response:
        setup = totp_setup_begin(user=signed_in(request))
        body = {"secret": setup.secret, "otpauth_url": setup.otpauth_url}
        return Response(TotpSetupOutputSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MfaCodeInputSerializer, responses={204: None})
    def delete(self, request: Request) -> Response:
        serializer = MfaCodeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        totp_disable(
            request=request._request,
            user=signed_in(request),
            code=serializer.validated_data["code"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpConfirmApi(MeMfaApiView):
    @extend_schema(request=MfaCodeInputSerializer, responses=RecoveryCodesOutputSerializer)
    def post(self, request: Request) -> Response:
        serializer = MfaCodeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = totp_setup_confirm(
            request=request._request,
            user=signed_in(request),
            code=serializer.validated_data["code"],
        )
        return Response(RecoveryCodesOutputSerializer({"recovery_codes": codes}).data)


class MfaRequirementApi(TenantAPIView):
    """The tenant's "MFA required for every member" rule: read by admins, set by owners."""

    read_role = Role.ADMIN
    write_role = Role.OWNER

    @extend_schema(responses=MfaRequirementSerializer)
    def get(self, request: Request) -> Response:
        required = tenant_mfa_required(tenant=self.tenant)
        return Response(MfaRequirementSerializer({"mfa_required": required}).data)

    @extend_schema(request=MfaRequirementSerializer, responses=MfaRequirementSerializer)
    def patch(self, request: Request) -> Response:
        serializer = MfaRequirementSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = tenant_mfa_requirement_set(
            tenant=self.tenant,
            required=serializer.validated_data["mfa_required"],
            acting_user=signed_in(request),
        )
        return Response(MfaRequirementSerializer({"mfa_required": policy.mfa_required}).data)


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
            request=request,
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
