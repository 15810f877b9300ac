"""Outgoing webhooks (SPEC §9, ADR 0021): what they cost the request that causes them,
and how fast a worker delivers them.

* **Request path.** ``POST /api/v1/orders/`` through the whole Django stack (routing,
  JWT, the gate, the order service), timed one request at a time, on a tenant with 3
  enabled endpoints subscribed to ``order.created`` vs the same tenant with them
  disabled (no subscriber: what a tenant without endpoints pays, the one lookup
  query). With subscribers the request also writes the outbox row and, after commit,
  queues one dispatch task (to Redis; no worker consumes them during this part); the
  event's ``data`` is rendered by that task, not in the request (ADR 0021). Each run is
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


def _time_orders(client, products, customer, count: int) -> list[float]:
    samples = []
    for i in range(count):
        body = {
            "customer": customer.pk,
            "items": [{"product": products[i % len(products)].pk, "quantity": 1}],
        }
        started = time.perf_counter()
        response = client.post("/api/v1/orders/", body, format="json")
        samples.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content[:300]
    return samples


def bench_request_path(*, runs: int, tenant, host: str, token: str, products, customer, urls):
    from django_tenants.utils import tenant_context
    from rest_framework.test import APIClient

    from tenant_apps.integrations.models import WebhookEndpoint, WebhookEvent
    from tenant_apps.integrations.services import new_secret

    with tenant_context(tenant):
        for url in urls:
            WebhookEndpoint.objects.create(url=url, events=["order.created"], secret=new_secret())
    client = APIClient(HTTP_HOST=host)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    _time_orders(client, products, customer, WARM_UP)  # caches, connections

    state = {"enabled": None}

    def side(enabled: bool, count: int) -> list[float]:
        if state["enabled"] is not enabled:  # outside the timed request
            with tenant_context(tenant):
                WebhookEndpoint.objects.update(enabled=enabled)
            state["enabled"] = enabled
        return _time_orders(client, products, customer, count)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    statements = {}
    for name, enabled in (("with", True), ("without", False)):
        with tenant_context(tenant):
            WebhookEndpoint.objects.update(enabled=enabled)
        state["enabled"] = enabled
        with CaptureQueriesContext(connection) as queries:
            _time_orders(client, products, customer, 1)
        statements[name] = len(queries.captured_queries)

    samples: dict[str, list[float]] = {"with": [], "without": []}
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
                got[name] += side(name == "with", 1)
        for name, values in got.items():
            samples[name] += values
            per_run[name].append(statistics.median(values))
        ratios.append(per_run["with"][-1] / per_run["without"][-1])
    with tenant_context(tenant):
        events = WebhookEvent.objects.count()
        WebhookEvent.objects.all().delete()  # the queued dispatches will find nothing
        WebhookEndpoint.objects.update(enabled=True)
    # One event per order with subscribers (warm-up included), none without: the two
    # sides measured what they claim.
    assert events == WARM_UP + 1 + runs * 2 * half, events
    ours, theirs = statistics.median(samples["with"]), statistics.median(samples["without"])
    return {
        "figure": f"order write with {ENDPOINTS} subscribed endpoints (ms, median request)",
        "value": ours * 1000,
        "baseline": theirs * 1000,
        "baseline_name": (
            "the same order write with the endpoints disabled, paired A B B A request by request"
            f" (SQL statements per write: {statements['with']} vs {statements['without']})"
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
