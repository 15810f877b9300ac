"""Outgoing webhooks (SPEC §9, ADR 0021): what they cost the request that causes them,
and how fast a worker delivers them.

* **Request path.** ``POST /api/v1/orders/`` through the whole Django stack (routing,
  JWT, the gate, the order service), timed one request at a time as its client waits
  for it (until the body is out: ``OrderWriter``), on a tenant with 3
  enabled endpoints subscribed to ``order.created`` vs the same tenant with them
  disabled (no subscriber: what a tenant without endpoints pays, the one lookup
  query). With subscribers the request also writes the outbox row, and once the
  response is out it publishes one dispatch task (to Redis, ADR 0030; no worker
  consumes them during this part); the event's ``data`` is rendered by that task, not in
  the request (ADR 0021). The web process's CPU per write, that publish included, is
  reported beside it. Each run is
  ``ORDERS_PER_SIDE`` writes a side, paired A B B A one request at a time (the
  next run B A A B), so a drift or burst of the machine's load weighs on both sides
  alike; the endpoints are switched between requests, outside the timed ones.
* **Deliveries per second.** A real prefork worker (2 processes, ``bulk`` queue) sends
  ``EVENTS`` events to each of the 3 endpoints, all pointing at one local HTTP receiver
  on 127.0.0.1 (``tests/tenant_apps/integrations/receiver.py``), from the commit that
  queues them to the last request received; each delivery is signed, sent, and its
  attempt logged.
"""

from __future__ import annotations

import statistics
import time
import uuid
from decimal import Decimal

ENDPOINTS = 3
ORDERS_PER_SIDE = 60
WARM_UP = 10
EVENTS = 100


def _seed():
    from django_tenants.utils import tenant_context

    from tenant_apps.catalog.models import Product, ProductStatus
    from tenant_apps.orders.models import Customer
    from tenants.authentication import tenant_token_pair
    from tenants.provisioning import tenant_provision
    from tests.benchmarks.schemas import create_spare

    create_spare()
    provisioned = tenant_provision(
        name="Bench Hooks",
        subdomain="bench-hooks",
        owner_email="owner@bench-hooks.bench",
        owner_password="Zq7!vX9#mK2$wL5^",
        plan_code="pro",
    )
    with tenant_context(provisioned.tenant):
        products = Product.objects.bulk_create(
            [
                Product(
                    name=f"Hook product {i}",
                    slug=f"hook-product-{i}",
                    price=Decimal("5.00") + i,
                    stock=10_000_000,
                    status=ProductStatus.ACTIVE,
                )
                for i in range(5)
            ]
        )
        customer = Customer.objects.create(name="Hook customer", email="hooks@bench.example")
    token = tenant_token_pair(user=provisioned.user, tenant=provisioned.tenant)["access"]
    return provisioned.tenant, provisioned.domain.domain, token, products, customer


def order_environ(host: str, token: str, body: bytes) -> dict:
    """The WSGI environ of ``POST /api/v1/orders/`` with ``body``, as gunicorn builds it."""
    from django.test.client import FakePayload, RequestFactory

    return RequestFactory()._base_environ(
        PATH_INFO="/api/v1/orders/",
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(len(body)),
        HTTP_HOST=host,
        HTTP_AUTHORIZATION=f"Bearer {token}",
        SERVER_NAME=host,
        **{"wsgi.input": FakePayload(body)},
    )


class OrderWriter:
    """``POST /api/v1/orders/`` straight into Django's WSGI handler, timed as the client
    sees it: from the call to the last byte of the body, which is when gunicorn has
    written the response. The response's ``close()`` -- where Django sends
    ``request_finished`` and the after-response work runs (ADR 0030) -- comes after, and
    its CPU is counted in ``cpu`` (what the write costs the web process in all)."""

    def __init__(self, host: str, token: str, products, customer) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.host, self.token, self.products, self.customer = host, token, products, customer
        self.application = WSGIHandler()
        self.count = 0
        self.statuses: list[str] = []

    def _start_response(self, status, headers, exc_info=None) -> None:
        self.statuses.append(status)

    def one(self) -> tuple[float, float]:
        """(seconds until the body is out, CPU seconds of the whole request)."""
        import json

        self.count += 1
        product = self.products[self.count % len(self.products)].pk
        body = json.dumps(
            {"customer": self.customer.pk, "items": [{"product": product, "quantity": 1}]}
        ).encode()
        environ = order_environ(self.host, self.token, body)
        cpu, started = time.process_time(), time.perf_counter()
        response = self.application(environ, self._start_response)
        b"".join(response)
        elapsed = time.perf_counter() - started
        response.close()
        cpu = time.process_time() - cpu
        assert self.statuses[-1] == "201 Created", self.statuses[-1]
        return elapsed, cpu


def bench_request_path(*, runs: int, tenant, host: str, token: str, products, customer, urls):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from tenant_apps.integrations.models import WebhookEndpoint, WebhookEvent
    from tenant_apps.integrations.services import new_secret

    with tenant_context(tenant):
        for url in urls:
            WebhookEndpoint.objects.create(url=url, events=["order.created"], secret=new_secret())
    writer = OrderWriter(host, token, products, customer)
    for _ in range(WARM_UP):  # caches, connections
        writer.one()

    state = {"enabled": None}

    def side(enabled: bool) -> tuple[float, float]:
        if state["enabled"] is not enabled:  # outside the timed request
            with tenant_context(tenant):
                WebhookEndpoint.objects.update(enabled=enabled)
            state["enabled"] = enabled
        return writer.one()

    statements = {}
    for name, enabled in (("with", True), ("without", False)):
        side(enabled)  # switched, outside the count
        with CaptureQueriesContext(connection) as queries:
            side(enabled)
        statements[name] = len(queries.captured_queries)

    samples: dict[str, list[float]] = {"with": [], "without": []}
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    per_run: dict[str, list[float]] = {"with": [], "without": []}
    ratios: list[float] = []
    half = ORDERS_PER_SIDE // 2
    for n in range(runs):
        a, b = ("without", "with") if n % 2 == 0 else ("with", "without")
        got: dict[str, list[float]] = {"with": [], "without": []}
        # Paired A B B A one request at a time: neighbouring requests share the machine's
        # state of that moment (load from other processes, a checkpoint, autovacuum), so a
        # burst of it weighs on both sides alike instead of on one block of one side.
        for _ in range(half):
            for name in (a, b, b, a):
                elapsed, seconds = side(name == "with")
                got[name].append(elapsed)
                cpu[name].append(seconds)
        for name, values in got.items():
            samples[name] += values
            per_run[name].append(statistics.median(values))
        ratios.append(per_run["with"][-1] / per_run["without"][-1])
    with tenant_context(tenant):
        events = WebhookEvent.objects.count()
        WebhookEvent.objects.all().delete()  # the queued dispatches will find nothing
        WebhookEndpoint.objects.update(enabled=True)
    # One event per order with subscribers (warm-up and counted ones included), none
    # without: the two sides measured what they claim.
    assert events == WARM_UP + 2 + runs * 2 * half, events
    ours, theirs = statistics.median(samples["with"]), statistics.median(samples["without"])
    return {
        "figure": f"order write with {ENDPOINTS} subscribed endpoints (ms, median request)",
        "value": ours * 1000,
        "baseline": theirs * 1000,
        "baseline_name": (
            "the same order write with the endpoints disabled, paired A B B A request by request"
            f" (SQL statements per write: {statements['with']} vs {statements['without']};"
            f" web CPU per write, the after-response publish included:"
            f" {statistics.median(cpu['with']) * 1000:.2f} vs"
            f" {statistics.median(cpu['without']) * 1000:.2f} ms)"
        ),
        "ratio": ours / theirs,
        "target": "<= 1.10",
        "meets": ours / theirs <= 1.10,
        "spread": {
            "value": [min(per_run["with"]) * 1000, max(per_run["with"]) * 1000],
            "baseline": [min(per_run["without"]) * 1000, max(per_run["without"]) * 1000],
            "ratio": [min(ratios), max(ratios)],
            "n": runs,
        },
        "events_recorded": events,
        # SQL statements of one order write, each side (the difference is the outbox row).
        "statements": statements,
        # CPU of the web process per write, the after-response publish included (the
        # throughput the write costs, as against the latency above), median ms.
        "cpu_ms": {name: statistics.median(values) * 1000 for name, values in cpu.items()},
    }


def bench_delivery_rate(*, tenant, receiver, runs: int) -> dict:
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from config.celery import app
    from tenant_apps.integrations.events import outbox_write
    from tenant_apps.integrations.models import WebhookEndpoint
    from tests.celery_support import Worker, configure_app, purge_prefix, wait_for

    prefix = f"tessera-bench:{uuid.uuid4().hex[:8]}:"
    saved = dict(app.conf.broker_transport_options or {})
    saved_urls = (app.conf.broker_url, app.conf.result_backend)
    configure_app(app, prefix=prefix)
    worker = Worker(database=connection.settings_dict["NAME"], prefix=prefix, queues="bulk")
    rates = []
    try:
        worker.start()
        with tenant_context(tenant):
            endpoint_ids = list(WebhookEndpoint.objects.values_list("pk", flat=True))
        for n in range(runs + 1):  # the first round warms the worker up
            before = len(receiver.received())
            with tenant_context(tenant), transaction.atomic():
                for i in range(EVENTS):
                    outbox_write(
                        event_type="order.created",
                        data={"id": i, "round": n},
                        endpoint_ids=endpoint_ids,
                        tenant=tenant,
                    )
                started = time.perf_counter()
            expected = before + EVENTS * len(endpoint_ids)
            wait_for(
                lambda expected=expected: len(receiver.received()) >= expected,
                timeout=120,
                what="deliveries",
            )
            if n:
                rates.append(EVENTS * len(endpoint_ids) / (time.perf_counter() - started))
    finally:
        worker.stop()
        configure_app(app, prefix=saved.get("global_keyprefix", ""), redis_db=None)
        app.conf.broker_transport_options = saved
        app.conf.broker_url, app.conf.result_backend = saved_urls
        purge_prefix(prefix)
        connection.set_schema_to_public()
    return {
        "figure": f"webhook deliveries per second ({ENDPOINTS} endpoints, one local receiver)",
        "value": statistics.median(rates),
        "baseline": None,
        "baseline_name": "prefork worker, 2 processes, bulk queue; commit to last request",
        "ratio": None,
        "target": "(information)",
        "meets": None,
        "spread": {"value": [min(rates), max(rates)], "n": len(rates)},
    }


def run(*, runs: int) -> list[dict]:
    from tenants.services import tenant_destroy
    from tests.tenant_apps.integrations.receiver import Receiver

    receiver = Receiver().start()
    tenant, host, token, products, customer = _seed()
    try:
        urls = [receiver.url(f"/bench-{i}") for i in range(ENDPOINTS)]
        rows = [
            bench_request_path(
                runs=runs,
                tenant=tenant,
                host=host,
                token=token,
                products=products,
                customer=customer,
                urls=urls,
            )
        ]
        rows.append(bench_delivery_rate(tenant=tenant, receiver=receiver, runs=min(runs, 3)))
        return rows
    finally:
        receiver.stop()
        tenant_destroy(tenant=tenant)
