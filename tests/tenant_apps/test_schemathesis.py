"""Schemathesis against the tenant API's own OpenAPI schema, in-process.

The schema is fetched from ``/api/v1/schema/`` on alpha's host through the project's WSGI
application, exactly as a client generator would fetch it; then every documented
operation is called with a bounded number of generated requests (schema-valid ones and
schema-violating ones), each inside a savepoint that is rolled back, against a small
seeded catalogue so that object routes see real ids as well as random ones.

Every response must: not be a 500 (nor any 5xx but a deliberate, SPEC-shaped one), have
a documented status code, a documented content type, and a body that matches the
documented schema for that status.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.core import signals
from django.db import close_old_connections, connection, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from shared_apps.core.errors import ErrorCode
from shared_apps.organizations import services as org_services
from shared_apps.organizations.models import OrganizationUser
from tenant_apps.catalog.models import Category, Product, ProductStatus
from tenant_apps.exports.models import Export, ExportKind
from tenant_apps.orders.models import Customer, Order, OrderItem
from tenants.authentication import tenant_token_pair
from tests.support import error_of, host_client

if TYPE_CHECKING:
    from schemathesis.core.failures import Failure

# schemathesis is imported by the tests that use it, not at collection: every xdist
# worker collects this module (and would pay ~0.4 s, more under coverage), one runs it.

SCHEMA_PATH = "/api/v1/schema/"
# The example budget of each operation, by what there is to generate in its request. The
# run is derandomized (the same requests on every run: it cannot flake) and Hypothesis
# draws the simplest request first, then varied ones. A request with nothing to vary is
# the same every time: one is all there is to check. An id in the path alone: the first
# draw of a positive run is the seeded object's (its success status), the others random
# ids (404), and the negative run's are ids of the wrong type. A query or a body: enough
# draws to reach each operation's refusals (400, 409, 402) beside its success statuses;
# the deep fuzzing of the write bodies is test_fuzz_inputs.py's. Together these reach
# most of the (operation, status) pairs that five draws of everything reached (compared
# when the budget was set: the responses also depend on ids the sequences hand out, so
# no budget reaches the same pairs on every run).
EXAMPLES_NOTHING_TO_VARY = 1
EXAMPLES_PATH_ONLY = 3
EXAMPLES_QUERY_OR_BODY = 5
# The negative run (schema-violating requests) has smaller budgets: its draws of a path
# id are all of the wrong type (one 404 is all there is to see), and its refusals of a
# bad query or body show in the first draws. Every operation is still called (the test
# asserts it). Measured when set (derandomized): 260 -> 105 calls, 11.8 -> 6.8 s; of the
# (operation, status) pairs the two runs reached together, one is no longer reached
# (GET /categories/ 404, a bad cursor, which the other lists still answer in this run);
# the success statuses the negative run used to reach are all the positive run's too.
NEGATIVE_EXAMPLES_PATH_ONLY = 1
NEGATIVE_EXAMPLES_QUERY_OR_BODY = 2


def example_budget(operation, *, negative: bool = False) -> int:
    if len(operation.query) or len(operation.body):
        return NEGATIVE_EXAMPLES_QUERY_OR_BODY if negative else EXAMPLES_QUERY_OR_BODY
    if len(operation.path_parameters):
        return NEGATIVE_EXAMPLES_PATH_ONLY if negative else EXAMPLES_PATH_ONLY
    return EXAMPLES_NOTHING_TO_VARY


def not_a_crash(ctx, response, case) -> None:
    """Never a 500. Another 5xx only as a deliberate error in the SPEC §4 shape (an
    upstream such as Stripe unavailable or not configured), whose status the schema must
    then document (``status_code_conformance``)."""
    if response.status_code < 500:
        return
    if response.status_code == 500:
        from schemathesis.checks import not_a_server_error

        not_a_server_error(ctx, response, case)  # raises: a crash, whatever the body says
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        error = None
    assert isinstance(error, dict) and set(error) == {"code", "message", "fields"}, (
        f"{response.status_code} without the error shape: {response.content[:300]!r}"
    )
    assert error["code"] != ErrorCode.SERVER_ERROR, error


def checks() -> list:
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_crash,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]


@pytest.fixture
def wsgi_app():
    """The production WSGI entry point, run on the test's connection: Django's handler
    would close a connection it finds inside a transaction after each request (and so
    lose the test's data); its test client switches that off the same way."""
    from config.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def alpha_token(alpha) -> str:
    return tenant_token_pair(user=alpha.user("owner"), tenant=alpha.tenant)["access"]


# The schema document is the same for every request (it depends on the code, not on the
# data: tests/tenant_apps/test_cross_tenant_matrix.py checks it carries no tenant's), so
# each module run fetches it once, in JSON (PyYAML would take seconds over it).
_DOCUMENTS: dict[str, dict] = {}


def _schema_document(app, host: str, token: str) -> dict:
    import schemathesis

    if "schema" not in _DOCUMENTS:
        loaded = schemathesis.openapi.from_wsgi(
            f"{SCHEMA_PATH}?format=json",
            app,
            headers={"Host": host, "Authorization": f"Bearer {token}"},
        )
        _DOCUMENTS["schema"] = loaded.raw_schema
    return copy.deepcopy(_DOCUMENTS["schema"])  # schemathesis may resolve it in place


@pytest.fixture
def api_schema(alpha, alpha_token, wsgi_app):
    import schemathesis

    loaded = schemathesis.openapi.from_dict(_schema_document(wsgi_app, alpha.host, alpha_token))
    loaded.app = wsgi_app
    loaded.location = SCHEMA_PATH
    return loaded


@pytest.fixture
def seeded_ids(alpha) -> dict[str, int]:
    """One object of each kind in alpha, keyed by the collection in its path."""
    tenant = alpha.tenant
    owner = alpha.user("owner")
    connection.set_tenant(tenant)
    try:
        category = Category.objects.create(name="Tools", slug="tools")
        product = Product.objects.create(
            name="Hammer",
            slug="hammer",
            price=Decimal("9.99"),
            stock=50,
            status=ProductStatus.ACTIVE,
            category=category,
        )
        customer = Customer.objects.create(name="Ada", email="ada@shop.test")
        order = Order.objects.create(customer=customer, total=Decimal("19.98"))
        OrderItem.objects.create(
            order=order,
            product=product,
            quantity=2,
            unit_price=product.price,
            line_total=Decimal("19.98"),
        )
        export = Export.objects.create(kind=ExportKind.ORDERS_CSV, requested_by=owner)
        invitation = org_services.invitation_create(
            tenant=tenant,
            email="invitee@alpha.test",
            role="member",
            acting_user=owner,
            accept_url="http://alpha.localhost/api/v1/invitations/accept/",
        ).invitation
    finally:
        connection.set_schema_to_public()
    member = OrganizationUser.objects.get(
        organization_id=tenant.organization_id, user=alpha.user("member")
    )
    return {
        "categories": category.pk,
        "products": product.pk,
        "customers": customer.pk,
        "orders": order.pk,
        "exports": export.pk,
        "invitations": invitation.pk,
        "members": member.pk,
    }


@dataclass
class Findings:
    by_operation: dict[str, list[str]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)  # (operation, status) -> calls

    def add(self, operation: str, failure: Failure, case, response) -> None:
        seen = self.by_operation.setdefault(operation, [])
        title = f"{failure.title}: {failure.message.splitlines()[0] if failure.message else ''}"
        if not any(entry.startswith(title) for entry in seen):
            seen.append(f"{title}\n      {case.as_curl_command()}")

    def report(self) -> str:
        return "\n".join(
            f"{operation}:\n" + "\n".join(f"    {entry}" for entry in entries)
            for operation, entries in sorted(self.by_operation.items())
        )


def _strategies(operation, mode, seeded_ids: dict[str, int]):
    from schemathesis import GenerationMode

    strategy = operation.as_strategy(generation_mode=mode)
    path_ids = [p.name for p in operation.path_parameters]
    collection = operation.path.split("/")[3]  # /api/v1/<collection>/...
    if path_ids and collection in seeded_ids and mode == GenerationMode.POSITIVE:
        real = operation.as_strategy(
            generation_mode=mode, path_parameters={path_ids[0]: seeded_ids[collection]}
        )
        strategy = st.one_of(real, strategy)
    return strategy


def run_operation(operation, mode, *, alpha, alpha_token, seeded_ids, findings) -> bool:
    """Send the operation's budget of requests; False if it has no case in this mode."""
    from schemathesis import GenerationMode

    validations = checks()

    @settings(
        max_examples=example_budget(operation, negative=mode == GenerationMode.NEGATIVE),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategies(operation, mode, seeded_ids))
    def call(case) -> None:
        # Each request in its own savepoint: every example sees the same seeded data.
        with transaction.atomic():
            response = case.call(
                base_url=f"http://{alpha.host}",
                headers={"Authorization": f"Bearer {alpha_token}"},
            )
            transaction.set_rollback(True)
        connection.set_schema_to_public()
        findings.statuses[operation.label, response.status_code] += 1
        try:
            case.validate_response(response, checks=validations)
        except BaseExceptionGroup as group:
            for failure in group.exceptions:
                findings.add(operation.label, failure, case, response)

    try:
        call()
    except Unsatisfiable:
        # Nothing in this operation's request can be made invalid (no parameters, no
        # body): there is no negative case to send.
        assert mode == GenerationMode.NEGATIVE, operation.label
        return False
    return True


# One test per mode, so that the two halves of the run can go to two xdist workers.
@pytest.mark.parametrize("mode_name", ["positive", "negative"])
def test_every_operation_conforms_to_the_schema(
    alpha, alpha_token, api_schema, seeded_ids, mode_name
):
    from schemathesis import GenerationMode

    mode = GenerationMode(mode_name)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    findings = Findings()
    sent = set()
    for operation in operations:
        if run_operation(
            operation,
            mode,
            alpha=alpha,
            alpha_token=alpha_token,
            seeded_ids=seeded_ids,
            findings=findings,
        ):
            sent.add(operation.label)
    calls = sum(findings.statuses.values())
    print(f"{len(operations)} operations, {calls} calls")
    for (label, status), count in sorted(findings.statuses.items()):
        print(f"  {label:45} {status} x{count}")
    assert not findings.by_operation, findings.report()
    # Every operation that has a case in this mode was called.
    called = {label for label, _ in findings.statuses}
    assert called == sent, sorted(sent - called)
    assert len(sent) >= (len(operations) if mode == GenerationMode.POSITIVE else 40)


# ---------------------------------------------------------------------------------------
# What the run above once found, kept as regression tests.


def _documented_responses(alpha, path: str, method: str) -> set[str]:
    if "served" not in _DOCUMENTS:  # as a client fetches it, once per module run
        response = host_client(alpha.host).get(SCHEMA_PATH, HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        _DOCUMENTS["served"] = response.json()
    return set(_DOCUMENTS["served"]["paths"][path][method]["responses"])


REFUSED_QUERIES = [
    ("/api/v1/products/", {"min_price": "cheap"}),
    ("/api/v1/products/", {"category": "999999"}),
    ("/api/v1/categories/", {"parent": "999999"}),
    ("/api/v1/orders/", {"created_after": "yesterday"}),
    ("/api/v1/audit-log/", {"actor": "999999"}),
    ("/api/v1/orders/monthly-revenue/", {"months": "0"}),
]


@pytest.mark.parametrize(("path", "query"), REFUSED_QUERIES, ids=lambda v: str(v))
def test_refused_query_parameters_are_documented_as_400(alpha, alpha_token, path, query):
    client = host_client(alpha.host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha_token}")
    response = client.get(path, query)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert "400" in _documented_responses(alpha, path, "get")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/token/", {"email": "owner@alpha.test", "password": "wrong-password"}),
        ("/api/v1/auth/token/refresh/", {"refresh": "not-a-token"}),
        ("/api/v1/auth/session/", {"email": "owner@alpha.test", "password": "wrong-password"}),
    ],
    ids=["token", "refresh", "session"],
)
def test_refused_credentials_are_documented_as_401(alpha, path, body):
    response = host_client(alpha.host).post(path, body, format="json")
    assert response.status_code == 401
    error_of(response)
    assert "401" in _documented_responses(alpha, path, "post")


def test_member_patch_without_role_is_not_a_server_error(alpha, alpha_token, seeded_ids):
    client = host_client(alpha.host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha_token}")
    client.raise_request_exception = False
    response = client.patch(f"/api/v1/members/{seeded_ids['members']}/", {}, format="json")
    assert response.status_code == 400, response.status_code
    assert error_of(response)["fields"] == {"role": ["This field is required."]}
    assert OrganizationUser.objects.get(pk=seeded_ids["members"]).role == "member"


@pytest.mark.parametrize("path", ["/api/v1/billing/checkout/", "/api/v1/billing/portal/"])
def test_stripe_unavailable_is_documented_as_503(alpha, alpha_token, path):
    client = host_client(alpha.host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha_token}")
    response = client.post(path, {"plan": "pro"}, format="json")
    assert response.status_code == 503  # the suite runs without Stripe keys
    assert error_of(response)["code"] == "billing_disabled"
    assert "503" in _documented_responses(alpha, path, "post")
