"""The load-test mix (``locustfile.py``) imports, and every route it sends to exists.

Imported in a child process: importing locust monkey-patches the standard library with
gevent, which the test process (psycopg, threads) must not get.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[1]
_PROBE = """
import json, locustfile
print(json.dumps({
    "routes": locustfile.ROUTES,
    "tasks": sorted({t.__name__ for t in locustfile.TesseraUser.tasks}),
    "webhooks": locustfile.WEBHOOKS,
}))
"""


@pytest.fixture(scope="module")
def mix() -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_every_route_resolves_on_a_tenant_host(mix):
    assert mix["routes"]
    for name, route in mix["routes"].items():
        path = route.format(id=1)
        try:
            resolve(path, urlconf="config.urls_tenant")
        except Resolver404:
            pytest.fail(f"{name}: {path} is not a tenant route")


def test_a_missing_route_would_be_caught():
    with pytest.raises(Resolver404):
        resolve("/api/v1/no-such-thing/", urlconf="config.urls_tenant")


def test_the_mix_logs_in_browses_orders_exports_and_subscribes(mix):
    assert {"browse_products", "place_order", "cancel_order", "export_orders"} <= set(mix["tasks"])
    assert {"token", "products", "orders", "order_cancel", "exports", "webhooks"} <= set(
        mix["routes"]
    )
    assert mix["webhooks"] == 3
