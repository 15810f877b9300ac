"""The gate every tenant view goes through, and the declarations it reads.

Tenancy by construction (ADR 0022): a tenant view is a subclass of ``TenantGate`` (the
API bases in ``shared_apps.core.viewsets``, the page base in ``shared_apps.core.pages``),
and the base runs the gate before anything a subclass declares — a
``permission_classes = [...]`` on a class or an ``@action`` can only add checks, never
remove this one. The only way out is the deliberately named ``dangerously_public``
(a sentence saying why), and the cross-tenant matrix lists every view that uses it.

Roles are declared, typed and checked when the class is created: ``read_role``,
``write_role`` (``Role`` values) and ``action_roles`` (viewset action → ``Role``). A
typo — an unknown ``*_role`` attribute, an ``action_roles`` key naming no handler, a
string instead of a ``Role`` — fails at import, not at the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from shared_apps.core.errors import NotAMember, RoleRequired, TenantSuspended
from shared_apps.organizations.roles import Role
from shared_apps.organizations.selectors import Membership
from tenants.context import current_tenant_or_none
from tenants.membership_cache import memberships

if TYPE_CHECKING:
    from tenants.models import Tenant

_UNSET = object()
ROLE_DECLARATIONS = frozenset({"read_role", "write_role", "action_roles"})


def remember_membership(request, membership: Membership | None) -> None:
    getattr(request, "_request", request).tessera_membership = membership


def current_membership(request) -> Membership | None:
    """The request user's membership in the request's tenant (looked up at most once per
    request, and served from the per-process cache validated by the routing generation:
    ``tenants.membership_cache``)."""
    django_request = getattr(request, "_request", request)
    membership = getattr(django_request, "tessera_membership", _UNSET)
    if membership is _UNSET:
        tenant = current_tenant_or_none()
        membership = (
            memberships.membership(user_id=request.user.pk, tenant=tenant)
            if tenant is not None and request.user.is_authenticated
            else None
        )
        remember_membership(request, membership)
    return membership  # type: ignore[return-value]


def authorize(
    *,
    tenant: Tenant,
    membership: Membership | None,
    is_read: bool,
    needed: Role,
    writes_allowed_when_read_only: bool = False,
) -> None:
    """The one access rule for tenant data, shared by the API gate and the web pages.

    Raises ``NotAMember`` (403), ``RoleRequired`` (403) or ``TenantSuspended`` (402 for a
    write on a read-only tenant). Authentication (who the user is) is the caller's.
    """
    if membership is None:
        raise NotAMember()
    if not membership.role.at_least(needed):
        raise RoleRequired(Role(needed).label.lower())
    if not is_read and tenant.is_read_only and not writes_allowed_when_read_only:
        raise TenantSuspended()


# The classes created with ``gate_base=True``: the only ones that may define sealed methods.
_GATE_BASES: set[type] = set()


class TenantGate:
    """The declarations of a tenant view, checked when each subclass is created."""

    read_role: ClassVar[Role] = Role.VIEWER
    write_role: ClassVar[Role] = Role.MEMBER
    action_roles: ClassVar[Mapping[str, Role]] = MappingProxyType({})
    # Billing endpoints: an owner of a suspended tenant must still be able to pay.
    writes_allowed_when_read_only: ClassVar[bool] = False
    # A plan feature the view needs (``billing.entitlements.Feature``): 402
    # ``feature_not_in_plan`` after the role check when the tenant's plan lacks it.
    required_feature: ClassVar[str | None] = None
    # The one opt-out: a sentence saying why this view needs no membership.
    dangerously_public: ClassVar[str] = ""
    # Methods through which the gate runs; subclasses of a gate base may not define them.
    sealed_methods: ClassVar[tuple[str, ...]] = ()
    # True below a base that runs the gate (``gate_base=True``); a view that is neither
    # gated nor dangerously_public fails the cross-tenant matrix.
    implements_gate: ClassVar[bool] = False

    def __init_subclass__(cls, gate_base: bool = False, **kwargs: Any) -> None:
        """``gate_base=True`` marks a base that implements the gate (it alone may define
        the sealed methods): ``class TenantAPIView(TenantGate, APIView, gate_base=True)``."""
        super().__init_subclass__(**kwargs)
        if gate_base:
            cls.implements_gate = True
            _GATE_BASES.add(cls)
        check_gate_declarations(cls, is_base=gate_base)

    def required_role(self, *, is_read: bool, action: str | None) -> Role:
        return self.action_roles.get(action or "") or (
            self.read_role if is_read else self.write_role
        )


def check_gate_declarations(cls: type[TenantGate], *, is_base: bool = False) -> None:
    """Refuse, at class creation, every declaration that would weaken or blur the gate."""
    name = f"{cls.__module__}.{cls.__qualname__}"
    own = vars(cls)
    for attribute in own:
        if attribute.endswith(("_role", "_roles")) and attribute not in ROLE_DECLARATIONS:
            raise ImproperlyConfigured(
                f"{name}.{attribute}: unknown role declaration (use one of "
                f"{', '.join(sorted(ROLE_DECLARATIONS))})"
            )
    for attribute in ("read_role", "write_role"):
        if not isinstance(getattr(cls, attribute), Role):
            raise ImproperlyConfigured(f"{name}.{attribute} must be a Role, not a string")
    for action, role in cls.action_roles.items():
        if not isinstance(role, Role):
            raise ImproperlyConfigured(f"{name}.action_roles[{action!r}] must be a Role")
        if not callable(getattr(cls, action, None)):
            raise ImproperlyConfigured(f"{name}.action_roles: {action!r} names no handler")
    if "implements_gate" in own and not is_base:
        raise ImproperlyConfigured(f"{name}: implements_gate is set by gate_base=True only")
    if cls.required_feature is not None and not isinstance(cls.required_feature, str):
        raise ImproperlyConfigured(f"{name}.required_feature is a Feature")
    if not isinstance(cls.dangerously_public, str):
        raise ImproperlyConfigured(f"{name}.dangerously_public is a reason (a str)")
    if "permission_classes" in own and any(
        isinstance(p, type) and issubclass(p, PublicEndpoint) for p in own["permission_classes"]
    ):
        raise ImproperlyConfigured(
            f"{name}: PublicEndpoint does not open a tenant view; say dangerously_public"
        )
    if not is_base:
        for method in cls.sealed_methods:
            # Wherever it comes from (the class itself or a mixin before the base in the
            # MRO), a sealed method must be a gate base's own.
            owner = next((k for k in cls.__mro__ if method in vars(k)), None)
            if owner is not None and owner not in _GATE_BASES:
                raise ImproperlyConfigured(
                    f"{name}.{method} (from {owner.__qualname__}): the tenant gate runs "
                    "through it; it may not be overridden (see tenants/permissions.py)"
                )


def required_role(view: Any, *, is_read: bool) -> Role:
    action = getattr(view, "action", None)
    if isinstance(view, TenantGate):
        return view.required_role(is_read=is_read, action=action)
    # A DRF view outside our bases (the DEFAULT_PERMISSION_CLASSES safety net).
    return (
        getattr(view, "action_roles", {}).get(action)
        or getattr(view, "read_role" if is_read else "write_role", None)
        or (Role.VIEWER if is_read else Role.MEMBER)
    )


def tenant_gate(request, view: Any) -> Membership:
    """Authenticated, active member of this tenant, with the role the view asks for;
    writes refused on a read-only tenant. Returns the membership."""
    tenant = current_tenant_or_none()
    if tenant is None:
        raise exceptions.NotFound()
    if not request.user or not request.user.is_authenticated:
        raise exceptions.NotAuthenticated()
    is_read = request.method in SAFE_METHODS
    membership = current_membership(request)
    authorize(
        tenant=tenant,
        membership=membership,
        is_read=is_read,
        needed=required_role(view, is_read=is_read),
        writes_allowed_when_read_only=getattr(view, "writes_allowed_when_read_only", False),
    )
    assert membership is not None  # authorize refuses a non-member
    require_view_feature(tenant, view)
    return membership


def require_view_feature(tenant: Tenant, view: Any) -> None:
    """402 ``feature_not_in_plan`` when the view declares a feature the plan lacks."""
    feature = getattr(view, "required_feature", None)
    if feature:
        from billing.entitlements import require_feature

        require_feature(tenant, feature)


class IsTenantMember(BasePermission):
    """DRF's default permission: the gate, for any DRF view outside the tenant bases
    (a safety net; the bases run the gate themselves, whatever they declare)."""

    def has_permission(self, request, view) -> bool:
        tenant_gate(request, view)
        return True


class PublicEndpoint(BasePermission):
    """Open to anyone: public-host endpoints (sign-up). A tenant view opts out of the
    gate with ``dangerously_public`` instead."""

    def has_permission(self, request, view) -> bool:
        return True
