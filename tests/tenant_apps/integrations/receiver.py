"""A real HTTP receiver for webhook deliveries, on 127.0.0.1 in the integrations port
range (18500-18599), in a thread of the test process.

Each path has a behaviour: ``/ok`` answers 204; ``/status/<code>`` that status;
``/flaky/<n>`` 500 for the first n requests to it, then 200; ``/hang`` waits until the
receiver stops (or 30 s), and so does the first request to ``/hang-once/<name>`` (later
ones: 204); ``/block/<name>`` holds its first request until
``release()`` (or the receiver stops), then answers 204 to every later one;
``/redirect`` answers 302 to ``/ok``; ``/huge`` a 200 with a (lazily written) body of
8 MiB. Every request is recorded with its headers and body.

Below it, what the worker-driven delivery tests (test_webhook_delivery.py and
test_webhook_faults.py) share: an endpoint and an order made through the API, reads in a
tenant's schema, and the tables those tests commit to (``WEBHOOK_TABLES``), emptied by the
``clean_webhooks`` fixture of this package's conftest.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

PORTS = range(18510, 18600)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        """On ``port`` if given (a receiver that comes up where one was down), else on
        the first free port of ``PORTS``."""
        self.requests: list[Received] = []
        self.hits: dict[str, int] = defaultdict(int)
        self.huge_bytes_sent = 0
        self._stop = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.server = self._bind(port)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _bind(self, wanted: int | None) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body, time.time())
                    )
                    receiver.hits[self.path] += 1
                    hit = receiver.hits[self.path]
                receiver.answer(self, hit)

        for port in PORTS if wanted is None else [wanted]:
            with contextlib.suppress(OSError):
                server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                server.daemon_threads = True
                return server
        raise RuntimeError(f"no free port in {wanted or '18510-18599'}")

    def answer(self, handler: BaseHTTPRequestHandler, hit: int) -> None:
        path = handler.path
        if path.startswith("/status/"):
            return self._send(handler, int(path.rsplit("/", 1)[1]))
        if path.startswith("/flaky/"):
            failures = int(path.rsplit("/", 1)[1])
            return self._send(handler, 500 if hit <= failures else 200)
        if path == "/hang" or (path.startswith("/hang-once/") and hit == 1):
            self._stop.wait(30)
            return None
        if path.startswith("/block/") and hit == 1:
            self._released.wait(60)
            with contextlib.suppress(OSError):  # the sender may be gone (killed)
                self._send(handler, 204)
            return None
        if path == "/redirect":
            handler.send_response(302)
            handler.send_header("Location", f"http://127.0.0.1:{self.port}/ok")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        if path == "/huge":
            handler.send_response(200)
            handler.send_header("Content-Length", str(8 * 1024 * 1024))
            handler.end_headers()
            chunk = b"x" * 65536
            with contextlib.suppress(OSError):
                for _ in range(128):
                    handler.wfile.write(chunk)
                    self.huge_bytes_sent += len(chunk)
            return None
        return self._send(handler, 204)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int) -> None:
        body = b"" if status == 204 else b'{"ok": true}'
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def release(self) -> None:
        """Let the held ``/block/`` request go."""
        self._released.set()

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


# The worker-driven delivery tests -------------------------------------------------------------

T = TypeVar("T")
# What those tests commit in a tenant schema (children first).
WEBHOOK_TABLES = [
    "integrations_webhookattempt",
    "integrations_webhookdelivery",
    "integrations_webhookevent",
    "integrations_webhookendpoint",
    "orders_orderitem",
    "orders_order",
    "orders_customer",
    "catalog_product",
    "audit_auditentry",
]


def in_tenant(world: Any, read: Callable[[], T]) -> T:
    """``read()`` on ``world``'s schema, then back on public."""
    from django.db import connection

    connection.set_tenant(world.tenant)
    try:
        return read()
    finally:
        connection.set_schema_to_public()


def endpoint_on(world: Any, url: str, events: tuple[str, ...] = ("order.created",)) -> dict:
    """An endpoint of ``world`` on ``url``, created through the API by its owner."""
    from tests.support import bearer_client

    response = bearer_client(world, "owner").post(
        "/api/v1/webhooks/endpoints/", {"url": url, "events": list(events)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def stock(world: Any) -> tuple[int, int]:
    """A product and a customer in ``world``'s schema (committed): (product, customer)."""
    from tenant_apps.catalog.models import Product, ProductStatus
    from tenant_apps.orders.models import Customer

    def make() -> tuple[int, int]:
        product = Product.objects.create(
            name="Anvil",
            slug=f"anvil-{time.monotonic_ns()}",
            price=Decimal("49.00"),
            stock=100,
            status=ProductStatus.ACTIVE,
        )
        customer = Customer.objects.create(name="Wile", email=f"w{time.monotonic_ns()}@acme.test")
        return product.pk, customer.pk

    return in_tenant(world, make)


def place_order(world: Any, product: int, customer: int) -> dict:
    """An order placed through the API by a member: its event is committed and queued."""
    from tests.support import bearer_client

    response = bearer_client(world, "member").post(
        "/api/v1/orders/",
        {"customer": customer, "items": [{"product": product, "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()
