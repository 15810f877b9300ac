"""JWTs bound to one tenant.

Tokens are issued on a tenant host to active members only and carry that tenant's id
(``tenant_id``). On any other host the claim does not match and the token is refused
with 401, whoever the user is. Authentication also loads the membership (with the
user, in one query, or none when the per-process membership cache holds it:
``tenants.membership_cache``) and leaves it on the request for the permission check.
A token that authenticated before on the same tenant is not verified again until it
expires (``tenants.token_cache``); the binding, membership and password checks run on
every request.
"""

from __future__ import annotations

from django.utils.crypto import constant_time_compare
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from shared_apps.core.errors import ErrorCode, Message
from shared_apps.core.lockout import login_authenticate
from shared_apps.organizations.selectors import membership_for
from tenants.context import current_tenant, current_tenant_or_none
from tenants.membership_cache import memberships
from tenants.permissions import remember_membership
from tenants.token_cache import verified_tokens

TENANT_CLAIM = "tenant_id"
# A fingerprint of the password hash (Django's session auth hash, shortened): a new
# password ends every token issued before it, as it ends every session (ADR 0018).
PASSWORD_CLAIM = "pwd"  # noqa: S105 - a claim name
BAD_CREDENTIALS = "No active account found with the given credentials."


class CredentialsInBody(BaseAuthentication):
    """For endpoints that take credentials in the body (token, session login, sign-up):
    authenticates nobody, but makes failures answer 401 with a WWW-Authenticate header."""

    def authenticate(self, request):
        return None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class TenantBindingError(exceptions.AuthenticationFailed):
    default_detail = Message.TOKEN_OTHER_TENANT
    default_code = ErrorCode.TOKEN_NOT_VALID


class TokenRevoked(exceptions.AuthenticationFailed):
    default_detail = Message.TOKEN_REVOKED
    default_code = ErrorCode.TOKEN_NOT_VALID


def password_fingerprint(user) -> str:
    return user.get_session_auth_hash()[:32]


def check_password_fingerprint(token, user) -> None:
    """Refuse a token minted before the user's current password."""
    if not constant_time_compare(str(token.get(PASSWORD_CLAIM, "")), password_fingerprint(user)):
        raise TokenRevoked()


class TenantJWTAuthentication(JWTAuthentication):
    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        tenant = current_tenant_or_none()
        # A token that authenticated on this tenant before and has not expired
        # (tenants.token_cache); the binding, membership and password checks below run
        # whatever the cache says.
        token = verified_tokens.get(tenant.pk, raw_token) if tenant is not None else None
        fresh = token is None
        if token is None:
            token = self.get_validated_token(raw_token)
        if tenant is None or token.get(TENANT_CLAIM) != tenant.pk:
            raise TenantBindingError()
        membership = memberships.membership(
            user_id=token[jwt_settings.USER_ID_CLAIM], tenant=tenant
        )
        if membership is None:
            raise exceptions.AuthenticationFailed(Message.NOT_A_MEMBER, code=ErrorCode.NOT_A_MEMBER)
        check_password_fingerprint(token, membership.user)
        remember_membership(request, membership)
        if fresh:
            verified_tokens.put(tenant.pk, raw_token, token)
        return membership.user, token


def tenant_token_pair(*, user, tenant) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh[TENANT_CLAIM] = tenant.pk  # copied into every access token made from it
    refresh[PASSWORD_CLAIM] = password_fingerprint(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


class TokenObtainSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        write_only=True,
        help_text="With MFA on: a current TOTP or an unused recovery code.",
    )
    refresh = serializers.CharField(read_only=True)
    access = serializers.CharField(read_only=True)

    def validate(self, attrs):
        request = self.context["request"]
        tenant = current_tenant()
        from shared_apps.accounts.services import mfa_verify_for_token

        # Same answer for a wrong password and a non-member: membership is not leaked
        # (and the lockout counts both).
        user = login_authenticate(
            request._request,
            email=attrs["email"],
            password=attrs["password"],
            accept=lambda user: membership_for(user_id=user.pk, tenant=tenant) is not None,
        )
        if user is None:
            raise exceptions.AuthenticationFailed(
                BAD_CREDENTIALS, code=ErrorCode.AUTHENTICATION_FAILED
            )
        mfa_verify_for_token(request=request._request, user=user, otp=attrs.get("otp"))
        return tenant_token_pair(user=user, tenant=tenant)


class TokenRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField(read_only=True)

    def validate(self, attrs):
        tenant = current_tenant()
        try:
            refresh = RefreshToken(attrs["refresh"])
        except TokenError as exc:
            raise InvalidToken(str(exc)) from exc
        if refresh.get(TENANT_CLAIM) != tenant.pk:
            raise TenantBindingError()
        membership = membership_for(user_id=refresh[jwt_settings.USER_ID_CLAIM], tenant=tenant)
        if membership is None:
            raise exceptions.AuthenticationFailed(Message.NOT_A_MEMBER, code=ErrorCode.NOT_A_MEMBER)
        check_password_fingerprint(refresh, membership.user)
        return {"access": str(refresh.access_token)}
