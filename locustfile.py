"""A realistic load mix for any running Tessera: ``locust -f locustfile.py --host URL``.

Pointed at ``make run`` by default (the demo tenant ``globex``, whose Pro plan has
webhooks, and its demo users from ``seed_demo``)::

    make run                                  # in one terminal (PORT=8000 by default)
    .venv/bin/locust -f locustfile.py --headless -u 8 -r 4 -t 60s \\
        --host http://127.0.0.1:8000

or any deployment (``--host https://acme.example.com`` with its users' credentials).
Tessera picks the tenant from the Host header: the host of ``--host``, unless that is an
address or ``localhost`` (``*.localhost`` names do not resolve everywhere), in which case
the requests name ``TESSERA_TENANT_HOST`` in their Host header.

Environment (defaults: the ``make run`` demo):

* ``TESSERA_TENANT_HOST``: the tenant's host name when ``--host`` is an address
  (``globex.localhost``);

* ``TESSERA_OWNER_EMAIL`` / ``TESSERA_MEMBER_EMAIL`` / ``TESSERA_PASSWORD``: the users
  (``owner@globex.example``, ``member@globex.example``, ``tessera-demo-pass``);
* ``TESSERA_WEBHOOK_URL``: where the subscribed endpoints point (default
  ``http://127.0.0.1:9/locust``, the discard port: deliveries fail and are retried by
  the worker, which is load too; point it at a receiver to have them succeed);
* ``TESSERA_WEBHOOKS``: how many endpoints to keep subscribed to the order events
  (default 3, SPEC §9's figure; 0 for none).

The mix, per simulated user (logged in with the API token endpoint, tokens refreshed
before they expire): mostly reads (the products list, a page of orders, one product,
customers), some writes (an order placed, then sometimes canceled), now and then an
export requested. One in four users is the owner (who also keeps the webhook endpoints
subscribed, once per test run); the rest are members.
"""

# ruff: noqa: S311 - the mix's randomness is not security

from __future__ import annotations

import ipaddress
import os
import random
import threading
import time
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task

OWNER_EMAIL = os.environ.get("TESSERA_OWNER_EMAIL", "owner@globex.example")
MEMBER_EMAIL = os.environ.get("TESSERA_MEMBER_EMAIL", "member@globex.example")
PASSWORD = os.environ.get("TESSERA_PASSWORD", "tessera-demo-pass")
TENANT_HOST = os.environ.get("TESSERA_TENANT_HOST", "globex.localhost")
WEBHOOK_URL = os.environ.get("TESSERA_WEBHOOK_URL", "http://127.0.0.1:9/locust")
WEBHOOKS = int(os.environ.get("TESSERA_WEBHOOKS", "3"))
WEBHOOK_EVENTS = ["order.created", "order.canceled", "order.paid"]
WEBHOOK_MARK = "locust load test"  # the endpoints this file created (deleted at the end)
TOKEN_SECONDS = 240  # refreshed well before the access token's lifetime (5 min)

# The routes the mix uses, as Django names them (tests/test_locustfile.py resolves each).
ROUTES = {
    "token": "/api/v1/auth/token/",
    "refresh": "/api/v1/auth/token/refresh/",
    "products": "/api/v1/products/",
    "product": "/api/v1/products/{id}/",
    "customers": "/api/v1/customers/",
    "orders": "/api/v1/orders/",
    "order_cancel": "/api/v1/orders/{id}/cancel/",
    "exports": "/api/v1/exports/",
    "webhooks": "/api/v1/webhooks/endpoints/",
    "webhook": "/api/v1/webhooks/endpoints/{id}/",
}


def host_header(base_url: str | None) -> dict[str, str]:
    """``{"Host": TENANT_HOST}`` when ``base_url`` names an address or ``localhost``."""
    name = urlsplit(base_url or "").hostname or ""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        if name != "localhost":
            return {}
    port = urlsplit(base_url or "").port
    return {"Host": f"{TENANT_HOST}:{port}" if port else TENANT_HOST}


_subscribed = threading.Event()
_subscribe_lock = threading.Lock()


class TesseraUser(HttpUser):
    wait_time = between(0.5, 2.0)
    email = MEMBER_EMAIL

    def on_start(self) -> None:
        self.client.headers.update(host_header(self.host))
        if random.random() < 0.25:
            self.email = OWNER_EMAIL
        self.login()
        self.product_ids: list[int] = []
        self.customer_ids: list[int] = []
        self.placed: list[int] = []
        self.load_ids()
        if self.email == OWNER_EMAIL and WEBHOOKS:
            self.subscribe_webhooks()

    # Authentication ----------------------------------------------------------------------

    def login(self) -> None:
        response = self.client.post(
            ROUTES["token"], json={"email": self.email, "password": PASSWORD}, name="token"
        )
        response.raise_for_status()
        body = response.json()
        self.access, self.refresh = body["access"], body["refresh"]
        self.logged_in_at = time.monotonic()

    def headers(self) -> dict[str, str]:
        if time.monotonic() - self.logged_in_at > TOKEN_SECONDS:
            response = self.client.post(
                ROUTES["refresh"], json={"refresh": self.refresh}, name="token refresh"
            )
            if response.status_code == 200:
                self.access = response.json()["access"]
                self.logged_in_at = time.monotonic()
            else:
                self.login()
        return {"Authorization": f"Bearer {self.access}"}

    def load_ids(self) -> None:
        products = self.client.get(
            ROUTES["products"] + "?page_size=100&status=active",
            headers=self.headers(),
            name="products (ids)",
        ).json()["results"]
        customers = self.client.get(
            ROUTES["customers"] + "?page_size=100", headers=self.headers(), name="customers (ids)"
        ).json()["results"]
        self.product_ids = [p["id"] for p in products if p["stock"] > 0]
        self.customer_ids = [c["id"] for c in customers]

    def subscribe_webhooks(self) -> None:
        with _subscribe_lock:
            if _subscribed.is_set():
                return
            listed = self.client.get(
                ROUTES["webhooks"] + "?page_size=100", headers=self.headers(), name="webhooks"
            ).json()["results"]
            ours = [e for e in listed if e.get("description") == WEBHOOK_MARK]
            for _ in range(WEBHOOKS - len(ours)):
                self.client.post(
                    ROUTES["webhooks"],
                    json={
                        "url": WEBHOOK_URL,
                        "events": WEBHOOK_EVENTS,
                        "description": WEBHOOK_MARK,
                    },
                    headers=self.headers(),
                    name="webhook subscribe",
                ).raise_for_status()
            _subscribed.set()

    # The mix -----------------------------------------------------------------------------

    @task(10)
    def browse_products(self) -> None:
        self.client.get(
            ROUTES["products"] + "?page_size=20", headers=self.headers(), name="products"
        )

    @task(3)
    def search_products(self) -> None:
        self.client.get(
            ROUTES["products"] + "?page_size=20&search=a&ordering=price",
            headers=self.headers(),
            name="products (search)",
        )

    @task(4)
    def view_product(self) -> None:
        if self.product_ids:
            self.client.get(
                ROUTES["product"].format(id=random.choice(self.product_ids)),
                headers=self.headers(),
                name="product",
            )

    @task(4)
    def browse_orders(self) -> None:
        self.client.get(ROUTES["orders"] + "?page_size=20", headers=self.headers(), name="orders")

    @task(2)
    def browse_customers(self) -> None:
        self.client.get(
            ROUTES["customers"] + "?page_size=20", headers=self.headers(), name="customers"
        )

    @task(3)
    def place_order(self) -> None:
        if not self.product_ids or not self.customer_ids:
            return
        items = [
            {"product": product, "quantity": random.randint(1, 3)}
            for product in random.sample(self.product_ids, k=min(2, len(self.product_ids)))
        ]
        with self.client.post(
            ROUTES["orders"],
            json={"customer": random.choice(self.customer_ids), "items": items},
            headers=self.headers(),
            name="order place",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                self.placed.append(response.json()["id"])
            elif response.status_code in (400, 409):  # out of stock: the shop's answer
                response.success()
                self.load_ids()

    @task(1)
    def cancel_order(self) -> None:
        if self.placed:
            self.client.post(
                ROUTES["order_cancel"].format(id=self.placed.pop(0)),
                headers=self.headers(),
                name="order cancel",
            )

    @task(1)
    def export_orders(self) -> None:
        if self.email == OWNER_EMAIL or random.random() < 0.5:
            with self.client.post(
                ROUTES["exports"],
                json={"kind": "orders_csv"},
                headers=self.headers(),
                name="export",
                catch_response=True,
            ) as response:
                if response.status_code == 429:  # a plan's export quota: expected
                    response.success()


@events.test_stop.add_listener
def _unsubscribe(environment, **_) -> None:
    """Delete the webhook endpoints this file subscribed (its own mark only)."""
    if not WEBHOOKS or not _subscribed.is_set() or environment.host is None:
        return
    import requests

    base = environment.host.rstrip("/")
    token = requests.post(
        base + ROUTES["token"],
        json={"email": OWNER_EMAIL, "password": PASSWORD},
        headers=host_header(base),
        timeout=10,
    ).json()["access"]
    headers = {"Authorization": f"Bearer {token}", **host_header(base)}
    listed = requests.get(
        base + ROUTES["webhooks"] + "?page_size=100", headers=headers, timeout=10
    ).json()["results"]
    for endpoint in listed:
        if endpoint.get("description") == WEBHOOK_MARK:
            requests.delete(
                base + ROUTES["webhook"].format(id=endpoint["id"]), headers=headers, timeout=10
            )
    _subscribed.clear()
