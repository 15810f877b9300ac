"""``Authorization: Api-Key <key>``: one of the tenant's own systems, acting with the
key's role through the same gate as a member (ADR 0020).

The key is looked up by its prefix in the request's tenant schema, so a key of another
tenant is simply not found there (401). A found key becomes an ``ApiKeyPrincipal``
(``request.user``) and an ``ApiKeyMembership`` (``current_membership(request)``) with the
key's role: ``tenants.permissions.IsTenantMember`` and ``authorize`` then apply the role
gate, the read-only states and, in the services, the plan limits exactly as for a
member; throttles count per key (the principal's ``pk`` is ``api-key:<id>``); services
get the principal as ``acting_user`` and the audit log records the key as the actor.

Keys reach the tenant's data APIs only (``API_KEY_VIEW_MODULES``): the endpoints about
people (members, invitations, ``me/``, MFA, tokens) act on a person's account and answer
a key ``403 api_key_not_allowed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework_api_key.permissions import KeyParser

from billing.entitlements import Feature, require_feature
from shared_apps.core.errors import ErrorCode, TesseraError
from shared_apps.organizations.roles import Role
from shared_apps.organizations.selectors import Membership
from tenant_apps.integrations.models import ApiKey
from tenants.context import current_tenant_or_none
from tenants.permissions import remember_membership

KEYWORD = "Api-Key"
INVALID_KEY = "Invalid, revoked or expired API key."
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Views (by module) an API key may call: the tenant's data, not people's accounts.
API_KEY_VIEW_MODULES = (
    "tenant_apps.catalog.",
    "tenant_apps.orders.",
    "tenant_apps.audit.",
    "tenant_apps.integrations.",
    "billing.apis",
)


class ApiKeyNotAllowed(TesseraError):
    code = ErrorCode.API_KEY_NOT_ALLOWED
    http_status = 403
    message = "API keys cannot use this endpoint; it needs a person's login."


class ApiKeyPrincipal:
    """``request.user`` for a request made with an API key (not a ``User``: a key has no
    password, email, MFA or memberships of its own)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    email = ""

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.role = Role(api_key.role)
        # Unique per key and never a user id: throttles and logs key on it.
        self.pk = self.id = f"api-key:{api_key.pk}"

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix} ({self.api_key.name})"

    def get_username(self) -> str:
        return str(self)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


@dataclass(frozen=True)
class ApiKeyMembership(Membership):
    """A ``Membership`` whose holder is a key: what the gate needs (``role``)."""

    api_key: ApiKey | None = None


def api_key_of(actor: Any) -> ApiKey | None:
    """The key an ``acting_user`` stands for, or None for a person."""
    return getattr(actor, "api_key", None) if isinstance(actor, ApiKeyPrincipal) else None


def _view_allows_keys(request) -> bool:
    view = (getattr(request, "parser_context", None) or {}).get("view")
    module = type(view).__module__ if view is not None else ""
    return module.startswith(API_KEY_VIEW_MODULES)


def touch_last_used(api_key: ApiKey) -> None:
    """Stamp ``last_used_at``, at most one write a minute per key (a conditional UPDATE,
    so concurrent requests of one key write once between them)."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
        pk=api_key.pk,
    ).update(last_used_at=now)
    api_key.last_used_at = now


class ApiKeyAuthentication(BaseAuthentication):
    key_parser = KeyParser()

    def authenticate(self, request):
        raw = self.key_parser.get_from_authorization(request)
        if raw is None:
            return None
        tenant = current_tenant_or_none()
        if tenant is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY, code=ErrorCode.AUTHENTICATION_FAILED)
        raw = raw.strip()
        try:
            found = ApiKey.objects.get_from_key(raw) if "." in raw else None
            api_key = found if isinstance(found, ApiKey) else None
        except ApiKey.DoesNotExist:
            api_key = None
        if api_key is None or api_key.has_expired:
            raise exceptions.AuthenticationFailed(INVALID_KEY, code=ErrorCode.AUTHENTICATION_FAILED)
        require_feature(tenant, Feature.API_KEYS)  # a downgraded tenant's keys: 402
        if not _view_allows_keys(request):
            raise ApiKeyNotAllowed()
        principal = ApiKeyPrincipal(api_key)
        remember_membership(
            request,
            ApiKeyMembership(id=0, user=principal, role=principal.role, api_key=api_key),  # type: ignore[arg-type]
        )
        touch_last_used(api_key)
        return principal, api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD
