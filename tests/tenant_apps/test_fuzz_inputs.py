"""Hypothesis through the API: serializers, filters and the JSON parser under hostile input.

For every generated request: never a 500; every error is the SPEC §4 shape, with
``fields`` naming only fields the endpoint has; a refused write leaves every row as it
was (no partial write); an accepted write changes exactly what it says it did.

Each example runs in its own savepoint, rolled back afterwards, against the same small
shop in alpha's schema. Examples are derandomized so the suite is stable. Bugs the fuzz
found are fixed and kept as regression tests at the bottom of the module.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from shared_apps.core.errors import ErrorCode
from tenant_apps.catalog.models import Category, Product
from tenant_apps.orders.serializers import MAX_QUANTITY
from tenant_apps.orders.services import MAX_ORDER_TOTAL
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory
from tests.module_world import rolled_back_world
from tests.support import assert_not_a_crash, bearer_client, error_of, session_world

# Explicit budgets: the @example cases (the boundaries, and what the fuzz once found) run
# every time; the generated examples are a fixed, derandomized sample on top of them, so
# the run is the same on every machine and cannot flake. Their number is not what these
# tests prove (every request answered in the SPEC shape, no partial write): twenty per
# test already draw each field's empty, wrong-type, oversized and unicode values.
FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)

# ---------------------------------------------------------------------------------------
# The shop every example starts from.


@dataclass(frozen=True)
class Shop:
    category: int
    widget: int  # active, cheap, little stock
    gadget: int  # active, expensive, lots of stock
    draft: int
    archived: int
    sold_out: int
    customer: int
    customer_email: str

    @property
    def product_ids(self) -> list[int]:
        return [self.widget, self.gadget, self.draft, self.archived, self.sold_out]


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker) -> Iterator[Shop]:
    """The shop, built once per module in a transaction rolled back at its end
    (``tests.module_world``); every example's writes are rolled back to it."""
    with rolled_back_world(django_db_blocker, _open_shop) as built:
        yield built


def _open_shop() -> Shop:
    connection.set_tenant(session_world("alpha").tenant)
    try:
        tools = CategoryFactory(name="Tools", slug="tools")
        widget = ProductFactory(slug="widget", price=Decimal("2.50"), stock=10, category=tools)
        gadget = ProductFactory(price=Decimal("999999.99"), stock=5_000_000, category=tools)
        draft = ProductFactory(draft=True)
        archived = ProductFactory(archived=True)
        sold_out = ProductFactory(sold_out=True)
        customer = CustomerFactory(email="ada@shop.test")
    finally:
        connection.set_schema_to_public()
    return Shop(
        category=tools.pk,
        widget=widget.pk,
        gadget=gadget.pk,
        draft=draft.pk,
        archived=archived.pk,
        sold_out=sold_out.pk,
        customer=customer.pk,
        customer_email=customer.email,
    )


@pytest.fixture
def api(alpha):
    """Alpha's owner over JWT; a 500 comes back as a response to assert on, not raised."""
    client = bearer_client(alpha, "owner")
    client.raise_request_exception = False
    return client


SNAPSHOT_TABLES = {
    "categories": "catalog_category",
    "products": "catalog_product",
    "customers": "orders_customer",
    "orders": "orders_order",
    "items": "orders_orderitem",
    "exports": "exports_export",
    "audit": "audit_auditentry",
}


def snapshot(alpha) -> dict[str, list[dict]]:
    """Every row of the tables these endpoints write, in alpha's schema (one query)."""
    schema = connection.ops.quote_name(alpha.schema_name)
    parts = ", ".join(
        f"'{key}', (SELECT COALESCE(json_agg(t ORDER BY t.id), '[]') FROM {schema}.{table} t)"
        for key, table in SNAPSHOT_TABLES.items()
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT json_build_object({parts})::text")
        return json.loads(cursor.fetchone()[0], parse_float=Decimal)


@contextmanager
def rolled_back():
    """One example, in a savepoint that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
    connection.set_schema_to_public()


def send(api, method: str, path: str, payload):
    return api.generic(method, path, json.dumps(payload), content_type="application/json")


def assert_refused(response, *, statuses: set[int], fields: set[str]) -> dict:
    """An error in the SPEC §4 shape whose ``fields`` only name the endpoint's fields."""
    assert response.status_code in statuses, (response.status_code, response.content[:500])
    error = error_of(response)
    assert error["code"] and error["code"] == error["code"].lower(), error
    assert isinstance(error["message"], str) and error["message"], error
    assert set(error["fields"]) <= fields | {"non_field_errors"}, error
    if response.status_code == 400:
        assert error["code"] in (ErrorCode.VALIDATION_ERROR, ErrorCode.MALFORMED_JSON), error
    return error


def assert_only_changed(before: dict, after: dict, tables: set[str]) -> None:
    """An accepted write touched these tables (and the audit trail) and nothing else."""
    untouched = set(SNAPSHOT_TABLES) - tables - {"audit"}
    assert {t: after[t] for t in untouched} == {t: before[t] for t in untouched}
    assert len(after["audit"]) == len(before["audit"]) + 1  # audited, in the same transaction


def assert_no_5xx(response) -> None:
    """Fuzzed input is the client's fault or fine: never any 5xx (no upstream here)."""
    event(f"status {response.status_code}")  # see --hypothesis-show-statistics
    assert_not_a_crash(response)


# ---------------------------------------------------------------------------------------
# Strategies.

NAMES = st.one_of(
    st.text(max_size=260),
    st.sampled_from(
        [
            "",
            "   ",
            "日本語の商品",
            "Ωmega ≈ ç√",
            "🧪 lab kit",
            "a" * 201,
            "nul\x00byte",
            "<b>x</b>",
        ]
    ),
)
DECIMAL_TEXT = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=-1, max_value=Decimal("10000000000.009"), places=3).map(str),
    st.integers(min_value=-400, max_value=400).map(lambda e: f"1e{e}"),
    st.sampled_from(
        [
            "NaN",
            "-Infinity",
            "Infinity",
            "1e999",
            "-0",
            "0.005",
            "9999999999.99",
            "10000000000.00",
            " 3.50 ",
            "3,50",
            "0x1F",
            "١٢٣",
            "",
        ]
    ),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.integers(min_value=-2, max_value=2**31 + 2),
    st.floats(allow_nan=True, allow_infinity=True),  # NaN/Infinity: not JSON, 400
)
WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
PRICES = st.one_of(DECIMAL_TEXT, NUMBERS, WRONG_TYPES)
STOCKS = st.one_of(NUMBERS, DECIMAL_TEXT, st.text(max_size=6), WRONG_TYPES)
STATUSES = st.one_of(
    st.sampled_from(["draft", "active", "archived", "ACTIVE", "deleted", ""]), st.text(max_size=8)
)
SLUGS = st.one_of(st.from_regex(r"[a-z0-9-]{1,30}", fullmatch=True), st.text(max_size=230))


def references(real_ids: list[int]):
    """Ids as a api might send them: real, unknown, huge, negative, or the wrong type."""
    return st.one_of(
        st.sampled_from(real_ids),
        st.sampled_from(real_ids).map(str),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=5),
        WRONG_TYPES,
    )


# ---------------------------------------------------------------------------------------
# Products.

PRODUCT_FIELDS = {"name", "slug", "description", "price", "stock", "status", "category"}


def product_payloads(shop_category: int):
    optional = {
        "stock": STOCKS,
        "status": STATUSES,
        "category": references([shop_category]),
        "slug": SLUGS,
        "description": st.one_of(st.text(max_size=50), WRONG_TYPES),
    }
    plausible = st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=60),
            "price": st.one_of(
                st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2).map(str),
                st.integers(min_value=0, max_value=10**10),
                st.floats(min_value=0, max_value=1e6).map(lambda f: round(f, 2)),
            ),
        },
        optional={
            "stock": st.one_of(st.integers(min_value=-2, max_value=2**31), STOCKS),
            **{k: v for k, v in optional.items() if k != "stock"},
        },
    )
    # Half the time something a api could mean; the rest, anything at all.
    return st.one_of(
        plausible,
        st.fixed_dictionaries({}, optional={"name": NAMES, "price": PRICES, **optional}),
    )


def _valid_product(body: dict) -> None:
    price = Decimal(body["price"])
    assert Decimal("0") <= price <= Decimal("9999999999.99")
    assert price == price.quantize(Decimal("0.01"))
    assert 0 <= body["stock"] <= 2**31 - 1
    assert body["status"] in ("draft", "active", "archived")
    assert body["name"].strip() and len(body["name"]) <= 200


def test_product_create_survives_any_payload(alpha, api, shop):
    @FUZZ
    @given(payload=product_payloads(shop.category))
    @example(payload={"name": "Saw", "price": "12.30", "stock": 3, "category": shop.category})
    @example(payload={"name": "Saw", "price": "12.345"})
    @example(payload={"name": "Saw", "price": "NaN"})
    @example(payload={"name": "Saw", "price": "1.00", "stock": -1})
    @example(payload={"name": "Saw", "price": "1.00", "slug": "widget"})  # taken: 409
    def check(payload):
        with rolled_back():
            before = snapshot(alpha)
            response = send(api, "POST", "/api/v1/products/", payload)
            assert_no_5xx(response)
            after = snapshot(alpha)
            if response.status_code == 201:
                body = response.json()
                _valid_product(body)
                assert Decimal(body["price"]) == Decimal(str(payload["price"]).strip())
                assert body["name"] == payload["name"].strip()
                created = [p for p in after["products"] if p["id"] == body["id"]]
                assert len(after["products"]) == len(before["products"]) + 1 and created
                assert_only_changed(before, after, {"products"})
                if payload.get("category") is not None:
                    assert body["category"]["id"] == shop.category
            else:
                assert_refused(response, statuses={400, 409}, fields=PRODUCT_FIELDS)
                assert after == before

    check()


def test_product_patch_survives_any_payload(alpha, api, shop):
    @FUZZ
    @given(payload=product_payloads(shop.category))
    def check(payload):
        with rolled_back():
            before = snapshot(alpha)
            response = send(api, "PATCH", f"/api/v1/products/{shop.widget}/", payload)
            assert_no_5xx(response)
            after = snapshot(alpha)
            if response.status_code == 200:
                body = response.json()
                _valid_product(body)
                row = next(p for p in after["products"] if p["id"] == shop.widget)
                if "price" in payload:
                    assert row["price"] == Decimal(str(payload["price"]).strip())
                if "stock" in payload:
                    assert row["stock"] == body["stock"]
                others = [p for p in after["products"] if p["id"] != shop.widget]
                assert others == [p for p in before["products"] if p["id"] != shop.widget]
                if after["products"] != before["products"]:
                    assert_only_changed(before, after, {"products"})
                else:  # nothing to change: nothing written, nothing audited
                    assert after == before
            else:
                assert_refused(response, statuses={400, 409}, fields=PRODUCT_FIELDS)
                assert after == before

    check()


# ---------------------------------------------------------------------------------------
# Orders.

QUANTITIES = st.one_of(
    st.integers(min_value=-3, max_value=12),
    st.sampled_from([0, -1, MAX_QUANTITY, MAX_QUANTITY + 1, 2**31, 2**63]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["2", "2.0", "1e3", "", "two"]),
    st.floats(allow_nan=False),
    WRONG_TYPES,
)


def order_payloads(shop: Shop):
    item = st.fixed_dictionaries(
        {}, optional={"product": references(shop.product_ids), "quantity": QUANTITIES}
    )
    on_sale = st.sampled_from([shop.widget, shop.gadget])
    plausible_item = st.fixed_dictionaries(
        {"product": on_sale, "quantity": st.integers(min_value=1, max_value=12)}
    )
    duplicated_line = st.tuples(
        on_sale, st.sampled_from([1, 2, 5, MAX_QUANTITY]), st.integers(2, 4)
    ).map(lambda t: [{"product": t[0], "quantity": t[1]}] * t[2])
    plausible = st.fixed_dictionaries(
        {
            "customer": st.just(shop.customer),
            "items": st.one_of(st.lists(plausible_item, min_size=1, max_size=4), duplicated_line),
        },
        optional={"notes": st.text(max_size=30)},
    )
    anything = st.fixed_dictionaries(
        {},
        optional={
            "customer": references([shop.customer]),
            "items": st.one_of(st.lists(item, max_size=6), WRONG_TYPES, st.text(max_size=5)),
            "notes": st.one_of(st.text(max_size=30), WRONG_TYPES),
        },
    )
    return st.one_of(plausible, anything)


def order_of(shop: Shop, *lines: tuple[int, int]) -> dict:
    return {
        "customer": shop.customer,
        "items": [{"product": product, "quantity": quantity} for product, quantity in lines],
    }


def _requested(items) -> Counter:
    """Quantities per product as the api asked (for a request the server accepted)."""
    wanted: Counter = Counter()
    for line in items:
        wanted[int(Decimal(str(line["product"]).strip()))] += int(
            Decimal(str(line["quantity"]).strip())
        )
    return wanted


def test_order_create_survives_any_payload(alpha, api, shop):
    ids = {str(pk) for pk in shop.product_ids}

    @settings(FUZZ, max_examples=30)
    @given(payload=order_payloads(shop))
    @example(
        payload={"customer": shop.customer, "items": [{"product": shop.widget, "quantity": 2}]}
    )
    @example(
        payload={"customer": shop.customer, "items": [{"product": shop.widget, "quantity": 6}] * 2}
    )
    @example(payload={"customer": shop.customer, "items": [{"product": shop.draft, "quantity": 1}]})
    @example(payload={"customer": shop.customer, "items": []})
    @example(
        payload={"customer": shop.customer, "items": [{"product": shop.widget, "quantity": 0}]}
    )
    def check(payload):
        with rolled_back():
            before = snapshot(alpha)
            response = send(api, "POST", "/api/v1/orders/", payload)
            assert_no_5xx(response)
            after = snapshot(alpha)
            if response.status_code == 201:
                _check_placed_order(response.json(), payload, before, after)
            else:
                error = assert_refused(
                    response, statuses={400, 409}, fields={"customer", "items", "notes"} | ids
                )
                if error["fields"].keys() & ids:  # stock is short: keyed by product id
                    assert error["code"] == "insufficient_stock", error
                assert after == before

    check()


def _check_placed_order(order: dict, payload: dict, before: dict, after: dict) -> None:
    wanted = _requested(payload["items"])
    assert {line["product"]: line["quantity"] for line in order["items"]} == dict(wanted)
    assert all(qty >= 1 for qty in wanted.values())
    assert Decimal(order["total"]) == sum(Decimal(line["line_total"]) for line in order["items"])
    for line in order["items"]:
        assert Decimal(line["line_total"]) == Decimal(line["unit_price"]) * line["quantity"]
    stock_before = {p["id"]: p["stock"] for p in before["products"]}
    stock_after = {p["id"]: p["stock"] for p in after["products"]}
    for pk, stock in stock_before.items():
        assert stock_after[pk] == stock - wanted.get(pk, 0) >= 0
    assert len(after["orders"]) == len(before["orders"]) + 1
    assert len(after["items"]) == len(before["items"]) + len(wanted)
    assert_only_changed(before, after, {"orders", "items", "products"})


# ---------------------------------------------------------------------------------------
# Customers.

EMAILS = st.one_of(
    st.emails(),
    st.text(max_size=40),
    st.sampled_from(
        [
            "ADA@SHOP.TEST",
            " ada@shop.test ",
            "José@bücher.de",
            "user@bücher.de",
            "a@b",
            "@shop.test",
            "x" * 250 + "@shop.test",
            "two@@shop.test",
            "nul\x00@shop.test",
        ]
    ),
    WRONG_TYPES,
)


def test_customer_create_survives_any_payload(alpha, api, shop):
    @FUZZ
    @given(
        payload=st.one_of(
            st.fixed_dictionaries({"name": st.text(min_size=1, max_size=40), "email": EMAILS}),
            st.fixed_dictionaries({}, optional={"name": NAMES, "email": EMAILS}),
        )
    )
    @example(payload={"name": "Ada again", "email": shop.customer_email.upper()})
    @example(payload={"name": "Zoë", "email": "Zoe@Example.TEST"})
    def check(payload):
        with rolled_back():
            before = snapshot(alpha)
            response = send(api, "POST", "/api/v1/customers/", payload)
            assert_no_5xx(response)
            after = snapshot(alpha)
            if response.status_code == 201:
                body = response.json()
                assert body["email"] == payload["email"].strip().lower()
                assert body["name"] == payload["name"].strip()
                assert (body["order_count"], body["total_spent"]) == (0, "0.00")
                assert len(after["customers"]) == len(before["customers"]) + 1
                assert_only_changed(before, after, {"customers"})
            else:
                error = assert_refused(response, statuses={400, 409}, fields={"name", "email"})
                if response.status_code == 409:
                    assert error["code"] == "customer_email_taken"
                    assert payload["email"].strip().lower() == shop.customer_email
                assert after == before

    check()


# ---------------------------------------------------------------------------------------
# List filters, search, ordering and pagination parameters.

ANY_TEXT = st.text(max_size=20)
ISO_DATETIMES = st.tuples(
    st.dates(),
    st.times(),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),  # any UTC offset
).map(
    lambda t: (
        f"{t[0].isoformat()}T{t[1].isoformat()}"
        f"{'+' if t[2] >= 0 else '-'}{abs(t[2]) // 60:02d}:{abs(t[2]) % 60:02d}"
    )
)
ID_TEXT = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=1, max_value=50).map(str),
    st.sampled_from(["1.0", "1.5", "0", "-1", "", "null", "1 OR 1=1"]),
)
# Each parameter gets values near its meaning as well as plain junk.
QUERY_VALUES = {
    "min_price": st.one_of(
        DECIMAL_TEXT, st.integers(min_value=-20000, max_value=400).map(lambda e: f"1e{e}")
    ),
    "created_after": st.one_of(ISO_DATETIMES, st.dates().map(str)),
    "status": STATUSES,
    "category": ID_TEXT,
    "ordering": st.one_of(
        st.sampled_from(["-price", "price,-name", "-", "name,name", "created", "-total", "?"]),
        st.lists(st.sampled_from(["name", "-price", "stock", "x", "-id"]), max_size=3).map(
            ",".join
        ),
    ),
    "search": st.one_of(ANY_TEXT, st.sampled_from(["%", "_", "\\", "'", "\x00"])),
    "cursor": st.one_of(ANY_TEXT, st.binary(max_size=12).map(lambda b: b.hex())),
    "page_size": st.one_of(st.integers(min_value=-5, max_value=10**6).map(str), ANY_TEXT),
    "root": st.sampled_from(["true", "false", "1", "0", "yes", "maybe", ""]),
    "months": st.one_of(st.integers(min_value=-5, max_value=200).map(str), ANY_TEXT),
}
for _same, _as in [
    ("max_price", "min_price"),
    ("created_before", "created_after"),
    ("customer", "category"),
    ("parent", "category"),
    ("actor", "category"),
    ("object_id", "category"),
]:
    QUERY_VALUES[_same] = QUERY_VALUES[_as]


LIST_PARAMETERS = {
    "/api/v1/products/": [
        "min_price",
        "max_price",
        "status",
        "category",
        "ordering",
        "search",
        "cursor",
        "page_size",
    ],
    "/api/v1/orders/": [
        "status",
        "customer",
        "created_after",
        "created_before",
        "ordering",
        "search",
        "cursor",
        "page_size",
    ],
    "/api/v1/customers/": ["ordering", "search", "cursor", "page_size"],
    "/api/v1/categories/": ["parent", "root", "ordering", "search", "cursor", "page_size"],
    "/api/v1/audit-log/": ["action", "object_type", "object_id", "actor", "ordering", "cursor"],
    "/api/v1/orders/monthly-revenue/": ["months"],
}


@st.composite
def query_params(draw, path: str) -> dict[str, str]:
    names = draw(st.lists(st.sampled_from(LIST_PARAMETERS[path]), unique=True, max_size=4))
    return {name: draw(st.one_of(QUERY_VALUES.get(name, ANY_TEXT), ANY_TEXT)) for name in names}


@pytest.mark.parametrize("path", sorted(LIST_PARAMETERS))
def test_list_parameters_survive_any_value(alpha, api, shop, path):
    @settings(FUZZ, max_examples=15)
    @given(params=query_params(path))
    def check(params):
        with rolled_back():
            before = snapshot(alpha)
            response = api.get(path, params)
            assert_no_5xx(response)
            if response.status_code == 200:
                body = response.json()
                assert isinstance(body, list) or isinstance(body["results"], list)
            else:
                # 404: a cursor that is not one of ours
                error = assert_refused(
                    response, statuses={400, 404}, fields=set(LIST_PARAMETERS[path])
                )
                if response.status_code == 404:
                    assert "cursor" in params, (path, params, error)
            assert snapshot(alpha) == before

    check()


# ---------------------------------------------------------------------------------------
# Malformed JSON bodies.

WRITE_ENDPOINTS = [
    ("POST", "/api/v1/categories/"),
    ("POST", "/api/v1/products/"),
    ("POST", "/api/v1/customers/"),
    ("POST", "/api/v1/orders/"),
    ("POST", "/api/v1/exports/"),
    ("POST", "/api/v1/invitations/"),
    ("POST", "/api/v1/invitations/accept/"),
    ("POST", "/api/v1/auth/token/"),
    ("PATCH", "/api/v1/products/{widget}/"),
    ("PATCH", "/api/v1/customers/{customer}/"),
    ("PATCH", "/api/v1/categories/{category}/"),
]
VALID_BODY = json.dumps({"name": "Hammer", "price": "9.99", "items": [{"product": 1}]})
BROKEN_JSON = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
    st.integers(min_value=1, max_value=len(VALID_BODY) - 1).map(lambda n: VALID_BODY[:n].encode()),
    st.sampled_from(
        [b"", b"{", b"{'name': 'x'}", b'{"name": NaN}', b"\xff\xfe{}", b'{"a":1}}', b"[1,2", b"nul"]
    ),
)


def _is_a_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw, parse_constant=_refuse_constant), dict)
    except ValueError:
        return False


def _refuse_constant(name: str):
    raise ValueError(name)


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw, parse_constant=_refuse_constant)
    except ValueError:
        return False
    return True


def test_malformed_json_is_400_and_writes_nothing(alpha, api, shop):
    @FUZZ
    @given(endpoint=st.sampled_from(WRITE_ENDPOINTS), raw=BROKEN_JSON)
    def check(endpoint, raw):
        # A JSON object is a body, not a malformed one (the fuzz above covers those), and
        # an empty body is no body at all.
        assume(raw and not _is_a_json_object(raw))
        method, template = endpoint
        path = template.format(widget=shop.widget, customer=shop.customer, category=shop.category)
        with rolled_back():
            before = snapshot(alpha)
            response = api.generic(method, path, raw, content_type="application/json")
            assert_no_5xx(response)
            error = assert_refused(response, statuses={400}, fields=set())
            expected = ErrorCode.VALIDATION_ERROR if _parses(raw) else ErrorCode.MALFORMED_JSON
            assert error["code"] == expected, (raw, error)
            assert snapshot(alpha) == before

    check()


def test_body_too_large_is_413_and_writes_nothing(alpha, api, shop):
    before = snapshot(alpha)
    big = json.dumps({"name": "x" * (1024 * 1024 + 1), "price": "1.00"})
    response = api.generic("POST", "/api/v1/products/", big, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == ErrorCode.PAYLOAD_TOO_LARGE
    assert snapshot(alpha) == before


def test_other_media_types_are_415(alpha, api, shop):
    response = api.generic(
        "POST",
        "/api/v1/products/",
        "name=x&price=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == ErrorCode.UNSUPPORTED_MEDIA_TYPE


# ---------------------------------------------------------------------------------------
# Bugs the fuzz once found, kept as regression tests.


def test_order_total_beyond_the_column_is_refused_not_a_500(alpha, api, shop):
    connection.set_tenant(alpha.tenant)
    dear = ProductFactory(price=Decimal("9999999999.99"), stock=1000)
    connection.set_schema_to_public()
    before = snapshot(alpha)
    response = send(
        api,
        "POST",
        "/api/v1/orders/",
        {"customer": shop.customer, "items": [{"product": dear.pk, "quantity": 101}]},
    )
    # 101 in stock is enough (no 409): the total is what is refused.
    assert response.status_code == 400, response.content[:300]
    error = error_of(response)
    assert error["code"] == ErrorCode.VALIDATION_ERROR
    assert error["fields"] == {"items": [f"An order total may not exceed {MAX_ORDER_TOTAL}."]}
    assert snapshot(alpha) == before


@pytest.mark.parametrize("value", ["1e-16384", "0E-20000"])
@pytest.mark.parametrize("name", ["min_price", "max_price"])
def test_price_filter_beyond_numeric_range_is_400_not_500(api, shop, name, value):
    response = api.get("/api/v1/products/", {name: value})
    assert response.status_code == 400, response.content[:300]
    assert error_of(response)["fields"].keys() == {name}


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00-16:00", "2026-01-01T00:00:00+23:59"])
@pytest.mark.parametrize("name", ["created_after", "created_before"])
def test_created_filter_with_far_utc_offset_is_converted_not_a_500(api, shop, name, value):
    # Valid ISO 8601 beyond PostgreSQL's ±15:59: converted to UTC before the query.
    response = api.get("/api/v1/orders/", {name: value})
    assert response.status_code == 200, response.content[:300]


def test_fractional_ids_are_refused(alpha, api, shop):
    response = send(
        api,
        "POST",
        "/api/v1/products/",
        {"name": "Float", "price": "1.00", "category": shop.category + 0.9},
    )
    assert response.status_code == 400, response.content[:300]
    assert "category" in error_of(response)["fields"]
    connection.set_tenant(alpha.tenant)
    assert not Product.objects.filter(name="Float").exists()
    assert Category.objects.filter(pk=shop.category).exists()
    connection.set_schema_to_public()
