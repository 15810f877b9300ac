"""An HTTP-level fake of the parts of Stripe's API Tessera calls, and Stripe's webhook
signing scheme. Objects have the shapes Stripe's API returns (trimmed to the fields
Tessera and dj-stripe read). It honours Idempotency-Key like Stripe: a repeated key
returns the first response and creates nothing new.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-05-27.dahlia"
_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):010d}"


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Undo stripe-python's form encoding: ``a[b][0][c]=v`` → {"a": {"b": {"0": {"c": v}}}}."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


def customer_object(*, email: str, name: str, metadata: dict) -> dict[str, Any]:
    return {
        "id": new_id("cus"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": int(time.time()),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": "ABCD1234",
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def subscription_object(
    *,
    customer: str,
    status: str,
    price_id: str,
    sub_id: str | None = None,
    created: int | None = None,
    quantity: int = 1,
) -> dict[str, Any]:
    now = int(time.time())
    sub_id = sub_id or new_id("sub")
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "created": created or now,
        "livemode": False,
        "metadata": {},
        "cancel_at_period_end": False,
        "canceled_at": now if status == "canceled" else None,
        "collection_method": "charge_automatically",
        "currency": "usd",
        "default_payment_method": None,
        "latest_invoice": None,
        "trial_end": None,
        "items": {
            "object": "list",
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
            "data": [
                {
                    "id": new_id("si"),
                    "object": "subscription_item",
                    "quantity": quantity,
                    "subscription": sub_id,
                    "current_period_start": now,
                    "current_period_end": now + 30 * 86400,
                    "created": now,
                    "metadata": {},
                    "price": {
                        "id": price_id,
                        "object": "price",
                        "active": True,
                        "currency": "usd",
                        "product": "prod_test_tessera",
                        "type": "recurring",
                        "unit_amount": 2900,
                        "recurring": {
                            "interval": "month",
                            "interval_count": 1,
                            "usage_type": "licensed",
                        },
                        "livemode": False,
                        "metadata": {},
                        "created": now,
                    },
                }
            ],
        },
    }


def event_object(obj: dict[str, Any], *, type_: str, created: int | None = None) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created or int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
        "data": {"object": obj, "previous_attributes": {}},
    }


ACCOUNT = {
    "id": "acct_test_platform",
    "object": "account",
    "business_type": "company",
    "business_profile": {
        "name": "Tessera",
        "url": "https://tessera.example",
        "mcc": None,
        "support_email": None,
        "support_phone": None,
        "support_url": None,
        "product_description": None,
    },
    "capabilities": {},
    "charges_enabled": True,
    "controller": None,
    "country": "US",
    "created": 1700000000,
    "default_currency": "usd",
    "details_submitted": True,
    "email": "billing@tessera.example",
    "external_accounts": None,
    "livemode": False,
    "metadata": {},
    "payouts_enabled": True,
    "requirements": None,
    "settings": {
        "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
        "dashboard": {"display_name": "Tessera", "timezone": "Etc/UTC"},
    },
    "tos_acceptance": None,
    "type": "standard",
}


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header exactly as Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class FakeStripe:
    def __init__(self) -> None:
        self.customers: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.requests: list[dict[str, Any]] = []
        self.meter_events: list[dict[str, Any]] = []
        # Every subscription item update Stripe applied (a replayed idempotent request
        # is not applied again, as on Stripe): {"item", "quantity", "proration_behavior",
        # "idempotency_key"}.
        self.item_updates: list[dict[str, Any]] = []
        self.failures: dict[str, int] = defaultdict(int)  # "GET /v1/subscriptions" -> n
        self.rejections: dict[str, tuple[int, str]] = {}  # route -> (times, message)
        self._idempotent: dict[str, tuple[int, dict, tuple[str, dict]]] = {}
        self._lock = threading.Lock()
        self._request_key: str | None = None  # Idempotency-Key of the request being routed
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self, method: str, path_prefix: str) -> list[dict[str, Any]]:
        return [
            r for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)
        ]

    def reset(self) -> None:
        with self._lock:
            for store in (
                self.customers,
                self.subscriptions,
                self._idempotent,
                self.failures,
                self.rejections,
            ):
                store.clear()
            self.requests.clear()
            self.meter_events.clear()
            self.item_updates.clear()

    def fail(self, route: str, times: int) -> None:
        self.failures[route] = times

    def reject(self, route: str, times: int, message: str) -> None:
        """Answer ``route`` with a 400 ``invalid_request_error`` (a refusal, not an
        outage) ``times`` times."""
        self.rejections[route] = (times, message)

    def set_subscription(self, sub: dict[str, Any]) -> dict[str, Any]:
        self.subscriptions[sub["id"]] = sub
        return sub

    def item(self, item_id: str) -> dict[str, Any] | None:
        for sub in self.subscriptions.values():
            for item in sub["items"]["data"]:
                if item["id"] == item_id:
                    return item
        return None

    def _update_item(self, item_id: str, body: dict[str, Any], key: str | None) -> tuple[int, dict]:
        """``POST /v1/subscription_items/{id}``: Stripe's SubscriptionItem update."""
        item = self.item(item_id)
        if item is None:
            return _missing("subscription_item")
        proration = body.get("proration_behavior", "create_prorations")
        if proration not in ("create_prorations", "always_invoice", "none"):
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "param": "proration_behavior",
                    "message": f"Invalid proration_behavior: {proration}",
                }
            }
        if "quantity" in body:
            quantity = body["quantity"]
            if not str(quantity).isdigit():
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "param": "quantity",
                        "message": "Invalid integer: " + str(quantity),
                    }
                }
            item["quantity"] = int(quantity)
        self.item_updates.append(
            {
                "item": item_id,
                "quantity": item["quantity"],
                "proration_behavior": proration,
                "idempotency_key": key,
            }
        )
        return 200, json.loads(json.dumps(item))

    # HTTP ----------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
        if method == "GET" and path in ("/v1/account", "/v1/accounts/acct_test_platform"):
            return 200, ACCOUNT
        if method == "POST" and path == "/v1/customers":
            obj = customer_object(
                email=body.get("email", ""),
                name=body.get("name", ""),
                metadata=body.get("metadata", {}),
            )
            self.customers[obj["id"]] = obj
            return 200, obj
        if method == "GET" and path.startswith("/v1/customers/"):
            obj = self.customers.get(path.rsplit("/", 1)[1])
            return (200, obj) if obj else _missing("customer")
        if method == "POST" and path == "/v1/checkout/sessions":
            sid = new_id("cs")
            return 200, {
                "id": sid,
                "object": "checkout.session",
                "mode": body.get("mode"),
                "customer": body.get("customer"),
                "client_reference_id": body.get("client_reference_id"),
                "status": "open",
                "url": f"https://checkout.stripe.com/c/pay/{sid}",
                "success_url": body.get("success_url"),
                "cancel_url": body.get("cancel_url"),
                "livemode": False,
                "created": int(time.time()),
            }
        if method == "POST" and path == "/v1/billing_portal/sessions":
            sid = new_id("bps")
            return 200, {
                "id": sid,
                "object": "billing_portal.session",
                "customer": body.get("customer"),
                "return_url": body.get("return_url"),
                "livemode": False,
                "created": int(time.time()),
                "url": f"https://billing.stripe.com/p/session/{sid}",
            }
        if method == "GET" and path == "/v1/subscriptions":
            data = [
                s for s in self.subscriptions.values() if s["customer"] == query.get("customer")
            ]
            return 200, {
                "object": "list",
                "data": data,
                "has_more": False,
                "url": "/v1/subscriptions",
            }
        if method == "GET" and path.startswith("/v1/subscriptions/"):
            obj = self.subscriptions.get(path.rsplit("/", 1)[1])
            return (200, obj) if obj else _missing("subscription")
        if method == "DELETE" and path.startswith("/v1/subscriptions/"):  # cancel now
            obj = self.subscriptions.get(path.rsplit("/", 1)[1])
            if obj is None:
                return _missing("subscription")
            obj.update(status="canceled", canceled_at=int(time.time()))
            return 200, obj
        if method == "POST" and path.startswith("/v1/subscription_items/"):
            return self._update_item(path.rsplit("/", 1)[1], body, self._request_key)
        if method == "POST" and path == "/v1/billing/meter_events":
            event = {
                "object": "billing.meter_event",
                "event_name": body.get("event_name"),
                "identifier": body.get("identifier"),
                "payload": body.get("payload", {}),
                "timestamp": int(body.get("timestamp", time.time())),
                "livemode": False,
                "created": int(time.time()),
            }
            self.meter_events.append(event)
            return 200, event
        return _missing("route")

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                body = _nest(parse_qsl(raw, keep_blank_values=True))
                query = dict(parse_qsl(url.query))
                key = self.headers.get("Idempotency-Key")
                with fake._lock:
                    fake.requests.append(
                        {
                            "method": method,
                            "path": url.path,
                            "query": query,
                            "body": body,
                            "idempotency_key": key,
                            "authorization": self.headers.get("Authorization"),
                        }
                    )
                    route = f"{method} {url.path}"
                    if fake.failures.get(route, 0) > 0:
                        fake.failures[route] -= 1
                        status, payload = (
                            500,
                            {"error": {"type": "api_error", "message": "injected"}},
                        )
                    elif fake.rejections.get(route, (0, ""))[0] > 0:
                        times, message = fake.rejections[route]
                        fake.rejections[route] = (times - 1, message)
                        status, payload = (
                            400,
                            {"error": {"type": "invalid_request_error", "message": message}},
                        )
                    elif key and method == "POST" and key in fake._idempotent:
                        status, payload, first = fake._idempotent[key]
                        if first != (url.path, body):  # Stripe refuses a reused key
                            status, payload = (
                                400,
                                {
                                    "error": {
                                        "type": "idempotency_error",
                                        "message": "Keys for idempotent requests can only be "
                                        "used with the same parameters they were first used with.",
                                    }
                                },
                            )
                    else:
                        fake._request_key = key  # (under the lock) for routes that record it
                        status, payload = fake._route(method, url.path, query, body)
                        if key and method == "POST" and status < 500:
                            fake._idempotent[key] = (status, payload, (url.path, body))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", new_id("req"))
                if key:
                    self.send_header("Idempotency-Key", key)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_DELETE(self):
                self._serve("DELETE")

        return Handler


def _missing(kind: str) -> tuple[int, dict]:
    return 404, {"error": {"type": "invalid_request_error", "message": f"No such {kind}"}}
