"""Tenancy by construction: the gate cannot be dropped, and role declarations are typed.

What a reviewer would try when adding an endpoint: a ``permission_classes`` that allows
anyone, an override of the method the gate runs in, a typo in a role declaration. Each
either still meets the gate or fails when the class is created.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import include, path
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from shared_apps.core.errors import ErrorCode
from shared_apps.core.viewsets import TenantAPIView, TenantViewSet
from shared_apps.organizations.roles import Role
from tenants.permissions import PublicEndpoint
from tests.support import bearer_client, error_of, host_client


class OpenByDeclaration(TenantAPIView):
    """Says AllowAny: the gate still runs first."""

    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"tenant": self.tenant.subdomain})

    def post(self, request):
        return Response({"wrote": True})


class AdminsOnly(TenantViewSet):
    read_role = Role.ADMIN

    def list(self, request):
        return Response([])

    @action(detail=False, methods=["get"], permission_classes=[AllowAny])
    def loophole(self, request):
        return Response({"open": True})

    @action(detail=False, methods=["get"], dangerously_public="a test of the opt-out")
    def opt_out(self, request):
        return Response({"public": True})


router = SimpleRouter()
router.register("admins-only", AdminsOnly, basename="admins-only")
urlpatterns = [
    path("open/", OpenByDeclaration.as_view()),
    path("", include(router.urls)),
    path("", include("config.urls_tenant")),
]

pytestmark = pytest.mark.urls(__name__)


def test_allow_any_on_a_class_does_not_open_it(alpha, beta):
    anonymous = host_client(alpha.host).get("/open/")
    assert anonymous.status_code == 401
    assert error_of(anonymous)["code"] == ErrorCode.NOT_AUTHENTICATED
    # A member of another tenant is refused by the token binding; a viewer may not write.
    assert bearer_client(beta, "owner", host=alpha.host).get("/open/").status_code == 401
    assert bearer_client(alpha, "viewer").get("/open/").json() == {"tenant": "alpha"}
    assert bearer_client(alpha, "viewer").post("/open/").status_code == 403


def test_allow_any_on_an_action_does_not_open_it(alpha):
    assert host_client(alpha.host).get("/admins-only/loophole/").status_code == 401
    # The viewset's read_role still applies to the action.
    member = bearer_client(alpha, "member").get("/admins-only/loophole/")
    assert member.status_code == 403
    assert error_of(member)["code"] == ErrorCode.PERMISSION_DENIED
    assert bearer_client(alpha, "admin").get("/admins-only/loophole/").json() == {"open": True}


def test_the_named_opt_out_is_the_way_out(alpha):
    assert host_client(alpha.host).get("/admins-only/opt_out/").json() == {"public": True}


def test_a_gated_view_on_a_session_checks_membership_too(alpha, beta):
    from tests.support import session_client

    # Beta's owner with a session somehow stored in alpha's schema: still not a member.
    client = session_client(alpha, beta.user("owner"))
    response = client.get("/open/")
    assert response.status_code == 403
    assert error_of(response)["code"] == ErrorCode.NOT_A_MEMBER


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"wirte_role": Role.ADMIN}, "unknown role declaration"),
        ({"read_roles": Role.ADMIN}, "unknown role declaration"),
        ({"read_role": "admin"}, "must be a Role"),
        ({"write_role": "owner"}, "must be a Role"),
        ({"action_roles": {"destory": Role.ADMIN}}, "names no handler"),
        ({"action_roles": {"list": "admin"}}, "must be a Role"),
        ({"permission_classes": [PublicEndpoint]}, "say dangerously_public"),
        ({"dangerously_public": True}, "is a reason"),
        ({"implements_gate": True}, "gate_base=True only"),
        ({"check_permissions": lambda self, request: None}, "may not be overridden"),
        ({"initial": lambda self, request: None}, "may not be overridden"),
        ({"get_queryset": lambda self: None}, "may not be overridden"),
        ({"required_feature": 1}, "is a Feature"),
    ],
)
def test_a_weakening_declaration_fails_when_the_class_is_created(body, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        type("Broken", (TenantViewSet,), {"__module__": __name__, "list": lambda s, r: 1, **body})


def test_a_mixin_cannot_bring_a_sealed_method():
    class Loosen:
        def initial(self, request, *args, **kwargs):
            return None

    with pytest.raises(ImproperlyConfigured, match=r"initial \(from .*Loosen\)"):

        class Mixed(Loosen, TenantViewSet):
            def list(self, request):
                return Response([])


def test_a_subclass_below_a_subclass_is_checked_too():
    class Ordinary(TenantViewSet):
        def list(self, request):
            return Response([])

    with pytest.raises(ImproperlyConfigured, match="may not be overridden"):

        class Sneaky(Ordinary):
            def check_permissions(self, request):
                return None
