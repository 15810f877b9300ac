"""The cross-tenant matrix: every route and method of the tenant API, generated from the
tenant URLconf, aimed across tenants.

For each route and each method its view allows:

* (a) beta's owner, on beta's host, aimed at alpha's object ids: 404 on an object route;
  on a collection route either beta's own data (never alpha's) or a 400 naming the
  field that pointed at alpha's object; never a 5xx; alpha's rows unchanged. A control
  request by alpha's owner on alpha's host proves each id really names an alpha object.
* (b) alpha's token on beta's host: 401 on every route that needs authentication.
* (c) no credentials at all: 401 on every route that is not deliberately public.

Every view must sit below a base that runs the tenant gate or say
``dangerously_public`` (``test_every_route_is_gated_or_deliberately_public``). The public
routes (token, refresh, session, invitation accept, schema, docs, the root redirect) are
listed by hand below and have their own assertions; a view that opts out of membership
fails ``test_public_routes_are_exactly_the_listed_ones`` (and the anonymous probe) until
it is added there on purpose. While beta's owner probes a route, every read of a
tenant-owned public table must be scoped to beta (``tests.scoping_support``). A new
tenant-scoped route is covered without touching this file; a new object route needs its
kind in ``alpha_objects`` (it says so).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers
from rest_framework.test import APIClient

from shared_apps.accounts.models import User
from shared_apps.core.errors import ErrorCode, Message
from shared_apps.organizations import services as org_services
from shared_apps.organizations.models import (
    Organization,
    OrganizationInvitation,
    OrganizationUser,
)
from shared_apps.organizations.services import InvitationInvalid
from tenant_apps.catalog.models import Category, Product, ProductStatus
from tenant_apps.exports.models import Export, ExportKind
from tenant_apps.integrations.authentication import INVALID_KEY
from tenant_apps.integrations.models import (
    ApiKey,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenant_apps.orders.models import Customer, Order, OrderItem
from tenants.authentication import BAD_CREDENTIALS, tenant_token_pair
from tenants.data.models import DataExport
from tenants.models import Tenant
from tenants.permissions import TenantGate
from tests.factories import PASSWORD
from tests.module_world import rolled_back_world
from tests.scoping_support import reads_scoped_to
from tests.support import (
    TenantWorld,
    assert_not_a_crash,
    error_of,
    host_client,
    session_world,
)

# Every string alpha's objects carry; no response given on beta may contain it.
MARK = "alpha-secret-7f3c"
# Alpha's only order total: shows up in any aggregate (summary, revenue) over alpha's data.
MARK_TOTAL = "76543.21"
PROBE_EMAIL = "probe@beta-probe.test"

# ---------------------------------------------------------------------------------------
# The routes, walked from the tenant URLconf.


@dataclass(frozen=True)
class Route:
    template: str  # "/api/v1/products/<int:pk>/archive/"
    name: str | None
    basename: str | None  # the router's basename, e.g. "product"
    methods: tuple[str, ...]
    view_class: type
    actions: dict[str, str] | None
    kwargs: tuple[str, ...]  # names of the URL's path converters
    access: str  # "gated", "public" (dangerously_public) or "ungated" (a defect)

    @property
    def opted_out(self) -> bool:
        return self.access != "gated"

    @property
    def is_object_route(self) -> bool:
        return bool(self.kwargs)

    def url(self, pk: int | None = None) -> str:
        path = self.template
        for kwarg in self.kwargs:
            path = path.replace(f"<int:{kwarg}>", str(pk))
        assert "<" not in path, f"unexpected converter in {self.template}"
        return path


def _methods(callback) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions is not None:  # a DRF viewset route: the router bound these methods
        allowed = set(actions)
        if "get" in allowed:
            allowed.add("head")
        allowed.add("options")
    else:  # an APIView or plain Django view: the handlers it defines
        view_class = callback.view_class
        allowed = {m for m in view_class.http_method_names if hasattr(view_class, m)}
        if "get" in allowed:
            allowed.add("head")
    return tuple(sorted(m.upper() for m in allowed))


def _access(callback, view_class) -> str:
    """``gated`` (below a base that runs the tenant gate), ``public`` (it says
    ``dangerously_public``, on the class or its ``@action``) or ``ungated`` (neither: a
    defect, whatever its ``permission_classes`` say)."""
    if not (isinstance(view_class, type) and issubclass(view_class, TenantGate)):
        return "ungated"
    initkwargs = getattr(callback, "initkwargs", {})
    if initkwargs.get("dangerously_public", view_class.dangerously_public):
        return "public"
    return "gated" if view_class.implements_gate else "ungated"


ACCOUNT_PAGES_MODULE = "allauth."
ACCOUNT_ROUTES: list[str] = []


def _walk(patterns, prefix: str = "/"):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            callback = pattern.callback
            if callback.__module__.startswith(ACCOUNT_PAGES_MODULE):
                # The person's own account (sign-in, reset, email, MFA): allauth's views,
                # member-only sign-in through the project's adapter; tested in
                # tests/shared_apps/accounts, including from the other tenant's host.
                ACCOUNT_ROUTES.append(prefix + str(pattern.pattern))
                continue
            view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
            assert view_class is not None, f"{prefix}{pattern.pattern} is not a class-based view"
            yield Route(
                template=prefix + str(pattern.pattern),
                name=pattern.name,
                basename=getattr(callback, "initkwargs", {}).get("basename"),
                methods=_methods(callback),
                view_class=view_class,
                actions=getattr(callback, "actions", None),
                kwargs=tuple(pattern.pattern.converters),
                access=_access(callback, view_class),
            )


# Every route of a tenant host; the API's, probed below; the web app's pages are probed
# the same way, as a browser would, in tests/web/test_cross_tenant_pages.py.
ALL_ROUTES = list(_walk(get_resolver("config.urls_tenant").url_patterns))
ROUTES = [route for route in ALL_ROUTES if route.template.startswith("/api/")]
PAGE_ROUTES = [route for route in ALL_ROUTES if not route.template.startswith("/api/")]

# Deliberately public routes (route template → methods). Everything else needs a member.
PUBLIC_ROUTES = {
    "/invitations/accept/": ("GET", "HEAD", "OPTIONS", "POST"),  # the token is the proof
    "/api/v1/auth/token/": ("OPTIONS", "POST"),
    "/api/v1/auth/token/refresh/": ("OPTIONS", "POST"),
    "/api/v1/auth/session/": ("DELETE", "OPTIONS", "POST"),
    # A reset link is asked for by email and used with its token (bound to this host).
    "/api/v1/auth/password/reset/": ("OPTIONS", "POST"),
    "/api/v1/auth/password/reset/confirm/": ("OPTIONS", "POST"),
    "/api/v1/invitations/accept/": ("OPTIONS", "POST"),
    "/api/v1/schema/": ("GET", "HEAD", "OPTIONS"),
    "/api/v1/docs/": ("GET", "HEAD"),
    # Support access (ADR 0024): the admin arrives from the root domain with the signed,
    # single-use, tenant-bound hand-off token as the only proof; the "ended" page.
    "/support/start/": ("GET", "HEAD", "OPTIONS", "POST"),
    "/support/ended/": ("GET", "HEAD", "OPTIONS"),
}

# Bugs the matrix found, pinned until fixed (strict: the fix makes these tests fail).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _param(route: Route, method: str):
    reason = KNOWN_BUGS.get((route.template, method))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(route, method, id=f"{route.template}:{method}", marks=marks)


PROTECTED = [
    _param(route, method)
    for route in ROUTES
    if route.template not in PUBLIC_ROUTES
    for method in route.methods
]
PUBLIC = [
    _param(route, method)
    for route in ALL_ROUTES
    if route.template in PUBLIC_ROUTES
    for method in route.methods
]

# ---------------------------------------------------------------------------------------
# Alpha's objects, created inside each test's transaction.


@dataclass(frozen=True)
class AlphaObjects:
    ids: dict[str, int]  # router basename → id of one alpha object of that kind
    invitation_token: str
    refresh_token: str
    api_key: str  # an alpha admin key, brought to beta's host by the matrix
    state: dict  # alpha_state() once they exist: every test starts from (and keeps) it


def _in_schema(tenant: Tenant):
    connection.set_tenant(tenant)


@pytest.fixture(scope="module")
def alpha_objects(django_db_setup, django_db_blocker) -> Iterator[AlphaObjects]:
    """Alpha's objects, built once per module in a transaction rolled back at its end
    (``tests.module_world``); each test's own writes are rolled back to them."""
    with rolled_back_world(django_db_blocker, _create_alpha_objects) as objects:
        yield objects


def _create_alpha_objects() -> AlphaObjects:
    alpha, beta = session_world("alpha"), session_world("beta")
    tenant = alpha.tenant
    owner = alpha.user("owner")
    _in_schema(tenant)
    try:
        category = Category.objects.create(name=f"{MARK} category", slug=f"{MARK}-category")
        product = Product.objects.create(
            name=f"{MARK} product",
            slug=f"{MARK}-product",
            description=MARK,
            price=Decimal(MARK_TOTAL),
            stock=7,
            status=ProductStatus.ACTIVE,
            category=category,
        )
        customer = Customer.objects.create(name=f"{MARK} customer", email=f"{MARK}@customer.test")
        order = Order.objects.create(customer=customer, total=Decimal(MARK_TOTAL), notes=MARK)
        OrderItem.objects.create(
            order=order,
            product=product,
            quantity=1,
            unit_price=product.price,
            line_total=Decimal(MARK_TOTAL),
        )
        export = Export.objects.create(kind=ExportKind.ORDERS_CSV, requested_by=owner, error=MARK)
        api_key, raw_key = ApiKey.objects.create_key(name=f"{MARK} key", role="admin")
        endpoint = WebhookEndpoint.objects.create(
            url=f"https://hooks.example.test/{MARK}",
            events=["order.created"],
            description=MARK,
            secret=f"whsec_{MARK}",
        )
        event = WebhookEvent.objects.create(
            public_id=f"evt_{MARK}", type="order.created", payload={"data": MARK}
        )
        webhook_delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
        issued = org_services.invitation_create(
            tenant=tenant,
            email=f"{MARK}-invitee@alpha.test",
            role="member",
            acting_user=owner,
            accept_url="http://alpha.localhost/api/v1/invitations/accept/",
        )
    finally:
        connection.set_schema_to_public()
    membership = OrganizationUser.objects.get(
        organization_id=tenant.organization_id, user=alpha.user("member")
    )
    ids = {
        "category": category.pk,
        "product": product.pk,
        "customer": customer.pk,
        "order": order.pk,
        "export": export.pk,
        "invitation": issued.invitation.pk,
        "member": membership.pk,
        "organization-export": DataExport.objects.create(tenant=tenant, error=MARK).pk,
        "api-key": api_key.pk,
        "webhook-endpoint": endpoint.pk,
        "webhook-delivery": webhook_delivery.pk,
    }
    _assert_beta_lacks(beta, ids)
    return AlphaObjects(
        ids=ids,
        invitation_token=issued.token,
        refresh_token=tenant_token_pair(user=owner, tenant=tenant)["refresh"],
        api_key=raw_key,
        state=alpha_state(alpha),
    )


_TENANT_MODEL_OF = {
    "category": Category,
    "product": Product,
    "customer": Customer,
    "order": Order,
    "export": Export,
    "api-key": ApiKey,
    "webhook-endpoint": WebhookEndpoint,
    "webhook-delivery": WebhookDelivery,
}


def _assert_beta_lacks(beta: TenantWorld, ids: dict[str, int]) -> None:
    """Precondition: none of alpha's ids names one of beta's own rows (else a 2xx from
    beta would be about beta's data and the matrix would prove nothing)."""
    schema = connection.ops.quote_name(beta.schema_name)
    checks = [
        f"EXISTS (SELECT 1 FROM {schema}.{connection.ops.quote_name(model._meta.db_table)} "
        "WHERE id = %s)"
        for model in _TENANT_MODEL_OF.values()
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ARRAY[{', '.join(checks)}]", [ids[b] for b in _TENANT_MODEL_OF])
        clashes = dict(zip(_TENANT_MODEL_OF, cursor.fetchone()[0], strict=True))
    assert not any(clashes.values()), clashes


# Session tenants and users are created once per session and never rolled back, so
# their ids and tokens can be remembered across tests (saves queries on every request).
_REMEMBERED: dict[tuple, object] = {}


def _ids_of(world: TenantWorld) -> dict[str, int]:
    key = ("ids", world.subdomain)
    if key not in _REMEMBERED:
        tenant = world.tenant
        _REMEMBERED[key] = {"tenant": tenant.pk, "organization": tenant.organization_id}
    return _REMEMBERED[key]  # type: ignore[return-value]


def token_client(world: TenantWorld, role: str = "owner", *, host: str | None = None):
    """``tests.support.bearer_client``, with the access token remembered."""
    key = ("token", world.subdomain, role)
    if key not in _REMEMBERED:
        pair = tenant_token_pair(user=world.user(role), tenant=world.tenant)
        _REMEMBERED[key] = pair["access"]
    client = host_client(host or world.host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_REMEMBERED[key]}")
    return client


def _tenant_models():
    labels = {app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS}
    return [
        model
        for config in apps.get_app_configs()
        if config.label in labels
        for model in config.get_models()
    ]


def _public_rows_of(tenant: dict[str, int]):
    """(model, column, value) for every public-schema row that belongs to the tenant: the
    tenant itself and every shared model pointing at it or at its organisation."""
    tenant_labels = {model._meta.label for model in _tenant_models()}
    yield Tenant, "id", tenant["tenant"]
    for model in apps.get_models():
        if model is Tenant or model._meta.label in tenant_labels or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Tenant:
                yield model, field.column, tenant["tenant"]
            elif field.is_relation and field.related_model is Organization:
                yield model, field.column, tenant["organization"]


def alpha_state(alpha: TenantWorld) -> dict:
    """Every row of alpha's schema, and alpha's rows in the public schema (one query)."""
    key = ("state-query", alpha.subdomain)
    if key not in _REMEMBERED:  # the models do not change during a run: built once
        _REMEMBERED[key] = _state_query(alpha)
    sql, params = _REMEMBERED[key]  # type: ignore[misc]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return json.loads(cursor.fetchone()[0])


def _state_query(alpha: TenantWorld) -> tuple[str, list]:
    schema = connection.ops.quote_name(alpha.schema_name)
    parts, params = [], []
    for model in _tenant_models():
        table = f"{schema}.{connection.ops.quote_name(model._meta.db_table)}"
        parts.append(f"'{model._meta.label}', (SELECT json_agg(t ORDER BY t) FROM {table} t)")
    tenant = _ids_of(alpha)
    for model, column, value in _public_rows_of(tenant):
        table = connection.ops.quote_name(model._meta.db_table)
        parts.append(
            f"'{model._meta.label}.{column}', (SELECT json_agg(t ORDER BY t) "
            f"FROM public.{table} t WHERE t.{connection.ops.quote_name(column)} = %s)"
        )
        params.append(value)
    users = connection.ops.quote_name(User._meta.db_table)
    parts.append(
        f"'users', (SELECT json_agg(t ORDER BY t) FROM public.{users} t WHERE t.email LIKE %s)"
    )
    params.append("%@alpha.test")
    return f"SELECT json_build_object({', '.join(parts)})::text", params


# ---------------------------------------------------------------------------------------
# Requests.


def probe_body(objects: AlphaObjects) -> dict:
    """One body for every write: each field any tenant serializer takes, pointing at
    alpha's objects wherever a field is a reference. Unknown fields are ignored."""
    ids = objects.ids
    return {
        "name": "beta probe",
        "email": PROBE_EMAIL,
        "role": "viewer",
        "kind": ExportKind.ORDERS_CSV,
        "price": "1.00",
        "stock": 1,
        "status": "active",
        "notes": "beta probe",
        "parent": ids["category"],
        "category": ids["category"],
        "customer": ids["customer"],
        "items": [{"product": ids["product"], "quantity": 1}],
        "token": objects.invitation_token,
        "refresh": objects.refresh_token,
        "password": PASSWORD,
    }


REFERENCE_FIELDS = {"parent", "category", "customer", "items", "token", "refresh"}


def without_references(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in REFERENCE_FIELDS}


def send(client: APIClient, method: str, url: str, body: dict | None = None):
    if method in ("GET", "HEAD", "OPTIONS") or body is None:
        return client.generic(method, url)
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def id_for(route: Route, objects: AlphaObjects) -> int | None:
    if not route.is_object_route:
        return None
    assert route.basename in objects.ids, (
        f"{route.template}: create an alpha object for basename {route.basename!r} "
        "in the alpha_objects fixture"
    )
    return objects.ids[route.basename]


def _reference_fields(route: Route, method: str) -> set[str]:
    """Fields of the view's input serializer that reference other objects by id."""
    action = (route.actions or {}).get(method.lower())
    if method not in ("POST", "PATCH", "PUT") or action not in ("create", "partial_update"):
        return set()
    serializer_class = getattr(route.view_class, "input_serializer_class", None)
    if serializer_class is None:
        return set()
    found = set()
    for name, field in serializer_class().fields.items():
        child = getattr(field, "child", None)
        if isinstance(field, serializers.RelatedField) or (
            isinstance(child, serializers.Serializer)
            and any(isinstance(f, serializers.RelatedField) for f in child.fields.values())
        ):
            found.add(name)
    return found


# A 502/503 is a deliberate error in the SPEC shape here (Stripe unavailable or not
# configured), never a crash.
UPSTREAM_DOWN = (502, 503)


def assert_no_alpha_data(response) -> None:
    content = getattr(response, "content", b"") or b""
    assert MARK.encode() not in content, content[:500]
    assert MARK_TOTAL.encode() not in content, content[:500]
    assert b"@alpha.test" not in content, content[:500]


# ---------------------------------------------------------------------------------------
# The matrix.


def test_the_matrix_is_generated_from_the_urlconf():
    templates = {route.template for route in ROUTES}
    # A sample that must be there; the rest is whatever the URLconf holds.
    assert {
        "/api/v1/me/",
        "/api/v1/products/<int:pk>/archive/",
        "/api/v1/orders/<int:pk>/cancel/",
        "/api/v1/members/<int:pk>/",
        "/api/v1/exports/<int:pk>/download/",
        "/api/v1/api-keys/<int:pk>/",
        "/api/v1/webhooks/endpoints/<int:pk>/deliveries/",
        "/api/v1/webhooks/endpoints/<int:pk>/rotate-secret/",
        "/api/v1/webhooks/endpoints/<int:pk>/test/",
        "/api/v1/webhooks/deliveries/<int:pk>/redeliver/",
    } <= templates
    assert len(PROTECTED) >= 70


def test_every_route_is_gated_or_deliberately_public():
    """Tenancy by construction: every view of a tenant host sits below a base that runs
    the tenant gate, or says ``dangerously_public``; nothing is open by omission."""
    ungated = [r.template for r in ALL_ROUTES if r.access == "ungated"]
    assert ungated == []


def test_account_pages_are_allauths_under_accounts():
    """The only views outside the gate's bases: allauth's account pages, all under
    /accounts/ (their tenant binding is tested in tests/shared_apps/accounts)."""
    assert ACCOUNT_ROUTES and all(r.startswith("/accounts/") for r in ACCOUNT_ROUTES)
    assert "/accounts/login/" in ACCOUNT_ROUTES


def test_public_routes_are_exactly_the_listed_ones():
    """A view that opts out of membership must be listed here on purpose (the anonymous
    probe in the matrix would also catch it, at run time)."""
    opted_out = {r.template: r.methods for r in ALL_ROUTES if r.opted_out}
    assert opted_out == PUBLIC_ROUTES


@pytest.mark.parametrize(("route", "method"), PROTECTED)
def test_route_is_closed_to_other_tenants(route, method, alpha, beta, alpha_objects):
    before = alpha_objects.state
    pk = id_for(route, alpha_objects)
    url, body = route.url(pk), probe_body(alpha_objects)

    # (c) No credentials: 401 before anything else.
    anonymous = send(host_client(beta.host), method, url, body)
    assert anonymous.status_code == 401, ("anonymous", anonymous.content[:500])
    assert anonymous.headers.get("WWW-Authenticate", "").startswith("Bearer")
    if method != "HEAD":
        assert error_of(anonymous)["code"] == ErrorCode.NOT_AUTHENTICATED

    # (b) Alpha's own token, brought to beta's host: refused whoever holds it.
    stray = send(token_client(alpha, "owner", host=beta.host), method, url, body)
    assert stray.status_code == 401, ("alpha token on beta", stray.content[:500])
    if method != "HEAD":
        assert error_of(stray) == {
            "code": ErrorCode.TOKEN_NOT_VALID,
            "message": Message.TOKEN_OTHER_TENANT,
            "fields": {},
        }
    assert alpha_state(alpha) == before

    # (b') Alpha's API key, brought to beta's host: no such key there.
    keyed = host_client(beta.host)
    keyed.credentials(HTTP_AUTHORIZATION=f"Api-Key {alpha_objects.api_key}")
    stray_key = send(keyed, method, url, body)
    assert stray_key.status_code == 401, ("alpha key on beta", stray_key.content[:500])
    if method != "HEAD":
        assert error_of(stray_key) == {
            "code": ErrorCode.AUTHENTICATION_FAILED,
            "message": INVALID_KEY,
            "fields": {},
        }
    assert alpha_state(alpha) == before

    # (a) Beta's owner, at home on beta's host, aimed at alpha's ids. Every read of a
    # tenant-owned public table (memberships, invitations, billing) is scoped to beta.
    client = token_client(beta, "owner")
    with reads_scoped_to(beta.tenant):
        response = send(client, method, url, body)
    assert_not_a_crash(response, deliberate_5xx=UPSTREAM_DOWN)
    assert alpha_state(alpha) == before
    assert_no_alpha_data(response)

    if method == "OPTIONS":  # metadata about the view, never about an object
        assert response.status_code == 200
    elif route.is_object_route:
        if response.status_code == 400:
            # The body is validated before the lookup, and its references to alpha's
            # objects are unknown here; without them the object itself is not found.
            assert set(error_of(response)["fields"]) <= REFERENCE_FIELDS, response.content
            response = send(client, method, url, without_references(body))
            assert alpha_state(alpha) == before
        assert response.status_code == 404, response.content[:500]
        if method != "HEAD":
            error = error_of(response)
            assert error["code"] == ErrorCode.NOT_FOUND
            _control_alpha_sees_it(alpha, method, url, body, beta_error=error)
    else:
        references = _reference_fields(route, method)
        if references:
            # The request named alpha's objects: refused as a validation error on them.
            assert response.status_code == 400, response.content[:500]
            error = error_of(response)
            assert error["code"] == ErrorCode.VALIDATION_ERROR
            assert references & set(error["fields"]), error
        else:
            # Beta's own collection: listed or written in beta (or refused on its own
            # terms), with nothing of alpha's in it.
            assert response.status_code in COLLECTION_OK or response.status_code >= 500, (
                response.content[:500]
            )
            if response.status_code >= 400:
                error_of(response)


# What beta's owner may get from a collection route when the body names nothing of
# alpha's: success in beta, or a refusal about the request itself.
COLLECTION_OK = {200, 201, 202, 204, 400, 402, 409}


def _control_alpha_sees_it(alpha, method, url, body, *, beta_error) -> None:
    """The same request by alpha's owner on alpha's host finds the object, so beta's 404
    is about the tenant, not a wrong id. Rolled back: it may write."""
    with transaction.atomic():
        response = send(token_client(alpha, "owner"), method, url, body)
        transaction.set_rollback(True)
    connection.set_schema_to_public()
    if response.status_code == 404:
        # e.g. a download with no file yet: a different 404 from the one beta got
        assert error_of(response)["message"] != beta_error["message"], response.content
    else:
        assert_not_a_crash(response, deliberate_5xx=UPSTREAM_DOWN)


# ---------------------------------------------------------------------------------------
# The public routes: reachable without membership, but never into alpha.


@pytest.mark.parametrize(("route", "method"), PUBLIC)
def test_public_route_with_alpha_material_on_beta(route, method, alpha, beta, alpha_objects):
    """Anonymous on beta's host, carrying alpha's tokens and credentials in the body."""
    before = alpha_objects.state
    beta_members = list(
        OrganizationUser.objects.filter(organization_id=beta.tenant.organization_id).values()
    )
    body = {**probe_body(alpha_objects), "email": "owner@alpha.test"}
    response = send(host_client(beta.host), method, route.url(), body)

    assert_not_a_crash(response, deliberate_5xx=UPSTREAM_DOWN)
    assert alpha_state(alpha) == before
    assert (
        list(OrganizationUser.objects.filter(organization_id=beta.tenant.organization_id).values())
        == beta_members
    )
    assert_no_alpha_data(response)
    assert "sessionid" not in response.cookies or not response.cookies["sessionid"].value
    if response.status_code >= 400 and method != "HEAD" and route.template.startswith("/api/"):
        error_of(response)
    if method == "POST" and route.template == "/api/v1/auth/password/reset/":
        # The same answer for every email (no account enumeration), and no link is mailed:
        # alpha's owner is not a member of beta.
        assert response.status_code == 202, response.content[:500]
        assert [m for m in mail.outbox if "owner@alpha.test" in m.to] == []
    elif method == "POST" and route.template.startswith("/api/"):
        # Nothing alpha holds opens anything on beta.
        assert response.status_code in (400, 401), response.content[:500]


def test_alpha_credentials_get_no_token_on_beta(beta):
    response = host_client(beta.host).post(
        "/api/v1/auth/token/",
        {"email": "owner@alpha.test", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 401
    error = error_of(response)
    assert error == {
        "code": ErrorCode.AUTHENTICATION_FAILED,
        "message": BAD_CREDENTIALS,
        "fields": {},
    }


def test_alpha_refresh_token_gets_no_access_token_on_beta(beta, alpha_objects):
    response = host_client(beta.host).post(
        "/api/v1/auth/token/refresh/", {"refresh": alpha_objects.refresh_token}, format="json"
    )
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == ErrorCode.TOKEN_NOT_VALID
    assert error["message"] == Message.TOKEN_OTHER_TENANT


def test_alpha_credentials_open_no_session_on_beta(beta):
    client = host_client(beta.host)
    response = client.post(
        "/api/v1/auth/session/",
        {"email": "owner@alpha.test", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == ErrorCode.AUTHENTICATION_FAILED
    assert client.get("/api/v1/me/").status_code == 401


def test_alpha_invitation_token_is_invalid_on_beta(alpha, beta, alpha_objects):
    invitee = f"{MARK}-invitee@alpha.test"
    beta_org = beta.tenant.organization_id
    beta_members = OrganizationUser.objects.filter(organization_id=beta_org).count()
    response = host_client(beta.host).post(
        "/api/v1/invitations/accept/",
        {"token": alpha_objects.invitation_token, "password": PASSWORD, "full_name": "X"},
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invitation_invalid"
    assert error["message"] == InvitationInvalid.message
    assert error["fields"] == {"token": [InvitationInvalid.message]}
    assert OrganizationUser.objects.filter(organization_id=beta_org).count() == beta_members
    assert not User.objects.filter(email=invitee).exists()
    invitation = OrganizationInvitation.objects.get(pk=alpha_objects.ids["invitation"])
    assert invitation.accepted_at is None

    # Control: the same token does work where it was issued.
    accepted = host_client(alpha.host).post(
        "/api/v1/invitations/accept/",
        {"token": alpha_objects.invitation_token, "password": PASSWORD},
        format="json",
    )
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["email"] == invitee
    assert not OrganizationUser.objects.filter(
        organization_id=beta_org, user__email=invitee
    ).exists()


def test_schema_and_docs_on_beta_are_public_and_carry_no_tenant_data(beta, alpha_objects):
    client = host_client(beta.host)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "openapi" in schema.json()
    assert_no_alpha_data(schema)
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")
    assert_no_alpha_data(docs)


def test_root_is_the_web_app_behind_its_login(beta):
    response = host_client(beta.host).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
