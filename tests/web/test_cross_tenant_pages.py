"""The cross-tenant matrix for the web app's pages: every page route and method of the
tenant URLconf (outside ``/api/``), aimed across tenants the way a browser would.

For each route and method:

* no session: a redirect to the login page, nothing done;
* alpha's session cookie brought to beta's host: the same (sessions live in the
  tenant's schema, so it is no session there);
* beta's owner, signed in on beta, aimed at alpha's object ids: 404 on an object route,
  on a collection route beta's own page or a refusal of the request itself; never a
  5xx, never alpha's data, alpha's rows unchanged, every read of a tenant-owned public
  table scoped to beta.

The routes and alpha's objects come from the API matrix (tests/tenant_apps), so a new
page is covered without touching this file; a new object page needs its kind below.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.scoping_support import reads_scoped_to
from tests.support import host_client, session_client, session_world
from tests.tenant_apps.test_cross_tenant_matrix import (
    MARK,
    PAGE_ROUTES,
    PUBLIC_ROUTES,
    alpha_objects,  # noqa: F401 - the fixture
    alpha_state,
    assert_no_alpha_data,
    probe_body,
)

# Object pages, by URL name prefix → the kind of alpha object their id names.
OBJECT_KINDS = {
    "product-": "product",
    "customer-": "customer",
    "order-": "order",
    "export-": "export",
    "member-": "member",
    "invitation-": "invitation",
    "api-key-": "api-key",
    "webhook-endpoint-": "webhook-endpoint",
    "webhook-delivery-": "webhook-delivery",
}

PAGES = [
    pytest.param(route, method, id=f"{route.template}:{method}")
    for route in PAGE_ROUTES
    if route.template not in PUBLIC_ROUTES
    for method in route.methods
]


@dataclass(frozen=True)
class SignedIn:
    alpha_owner: str  # session cookie of alpha's owner, signed in on alpha
    beta_owner: str  # session cookie of beta's owner, signed in on beta
    state: dict  # alpha_state() with alpha's session in it


@pytest.fixture(scope="module")
def signed_in(alpha_objects, django_db_blocker) -> SignedIn:  # noqa: F811
    """Both owners signed in (session rows in their tenants' schemas), once per module,
    in the transaction of ``alpha_objects`` (rolled back at the module's end); a test's
    own session writes are rolled back with the test."""
    alpha, beta = session_world("alpha"), session_world("beta")
    with django_db_blocker.unblock():
        alpha_cookie = session_client(alpha, alpha.user("owner")).cookies["sessionid"].value
        beta_cookie = session_client(beta, beta.user("owner")).cookies["sessionid"].value
        return SignedIn(alpha_cookie, beta_cookie, alpha_state(alpha))


def client_with(host: str, cookie: str):
    client = host_client(host)
    client.cookies["sessionid"] = cookie
    return client


def kind_of(route) -> str:
    for prefix, kind in OBJECT_KINDS.items():
        if (route.name or "").startswith(prefix):
            return kind
    raise AssertionError(f"{route.template}: add its object kind to OBJECT_KINDS")


def form_body(objects) -> dict:
    """The API matrix's probe body as form fields (a browser posts forms)."""
    body = {k: v for k, v in probe_body(objects).items() if not isinstance(v, list | dict)}
    body.update(
        {
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-product": objects.ids["product"],
            "lines-0-quantity": "1",
            "plan": "pro",
            "search": MARK,
        }
    )
    return body


def send(client, method: str, url: str, body: dict):
    if method == "POST":
        return client.post(url, body)
    return client.generic(method, url)


def test_every_page_route_is_probed():
    templates = {route.template for route in PAGE_ROUTES}
    assert {"/", "/app/products/<int:pk>/", "/app/orders/<int:pk>/cancel/"} <= templates
    assert len(PAGES) >= 40


@pytest.mark.parametrize(("route", "method"), PAGES)
def test_page_is_closed_to_other_tenants(route, method, alpha, beta, alpha_objects, signed_in):  # noqa: F811
    # Alpha's owner signed in on alpha (a session row in alpha's schema), before the probe.
    before = signed_in.state
    pk = alpha_objects.ids[kind_of(route)] if route.is_object_route else None
    url, body = route.url(pk), form_body(alpha_objects)

    anonymous = send(host_client(beta.host), method, url, body)
    assert anonymous.status_code == 302, anonymous.content[:300]
    assert anonymous["Location"].startswith("/accounts/login/?next=")

    stray = send(client_with(beta.host, signed_in.alpha_owner), method, url, body)
    assert stray.status_code == 302 and stray["Location"].startswith("/accounts/login/")
    assert alpha_state(alpha) == before

    client = client_with(beta.host, signed_in.beta_owner)
    with reads_scoped_to(beta.tenant):
        response = send(client, method, url, body)
    assert response.status_code < 500 or response.status_code == 503, response.content[:500]
    assert alpha_state(alpha) == before
    assert_no_alpha_data(response)
    if method == "OPTIONS":  # the allowed methods, never about an object
        assert response.status_code == 200 and response.content == b""
    elif route.is_object_route:
        assert response.status_code == 404, response.content[:500]
