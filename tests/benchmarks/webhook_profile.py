"""One order write, profiled in process, with 3 subscribed webhook endpoints and without.

``python -m tests.benchmarks.webhook_profile`` seeds the webhooks benchmark's tenant
(``tests.benchmarks.webhooks._seed``) on a throw-away database, creates 3 endpoints
subscribed to ``order.created``, and sends ``POST /api/v1/orders/`` straight to Django's
WSGI handler (the whole middleware stack, JWT, the gate, the order service, the outbox
row and, after commit, the dispatch task published to Redis), alternating blocks with
the endpoints enabled and disabled (A B B A).

It prints, per side: Python function calls per request under ``cProfile``
(deterministic), CPU milliseconds per request (``time.process_time``, without the
profiler: what the request costs a core, much less sensitive to other processes than wall
time), wall milliseconds, and with ``--top`` the functions with the most cumulative time
of the subscribed side. Used for issue 13's "≤ 1.10" row of docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("LOG_LEVEL", "WARNING")

DATABASE = "tessera_profile_hooks"
ENDPOINTS = 3


def measure(*, requests: int, rounds: int, cpu_profile: bool = False) -> dict:
    from django_tenants.utils import tenant_context

    from tenant_apps.integrations.models import WebhookEndpoint, WebhookEvent
    from tenant_apps.integrations.services import new_secret
    from tenants.services import tenant_destroy
    from tests.benchmarks.webhooks import OrderWriter, _seed

    tenant, host, token, products, customer = _seed()
    with tenant_context(tenant):
        for i in range(ENDPOINTS):
            WebhookEndpoint.objects.create(
                url=f"https://hooks.example/{i}", events=["order.created"], secret=new_secret()
            )
    writer = OrderWriter(host, token, products, customer)  # asserts each 201 itself
    statuses = writer.statuses

    def one() -> None:
        writer.one()

    def enable(enabled: bool) -> None:
        with tenant_context(tenant):
            WebhookEndpoint.objects.update(enabled=enabled)

    results: dict[str, dict] = {}
    try:
        for enabled in (True, False):  # warm-up: imports, caches, connections
            enable(enabled)
            for _ in range(20):
                one()
        assert set(statuses) == {"201 Created"}, set(statuses)
        cpu: dict[str, list[float]] = {"with": [], "without": []}
        wall: dict[str, list[float]] = {"with": [], "without": []}
        for n in range(rounds):
            a, b = ("without", "with") if n % 2 == 0 else ("with", "without")
            for name in (a, b, b, a):
                enable(name == "with")
                started_cpu, started = time.process_time(), time.perf_counter()
                for _ in range(requests // 2):
                    one()
                cpu[name].append((time.process_time() - started_cpu) * 1000 / (requests // 2))
                wall[name].append((time.perf_counter() - started) * 1000 / (requests // 2))
        for name in ("with", "without"):
            enable(name == "with")
            profiler = cProfile.Profile(time.process_time) if cpu_profile else cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                one()
            profiler.disable()
            stats = pstats.Stats(profiler)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
            results[name] = {
                "calls_per_request": stats.total_calls / requests,  # type: ignore[attr-defined]
                "cpu_ms": statistics.median(cpu[name]),
                "cpu_ms_blocks": cpu[name],
                "wall_ms": statistics.median(wall[name]),
                "top": out.getvalue(),
                "profile": stats,
            }
        assert set(statuses) == {"201 Created"}, set(statuses)
        with tenant_context(tenant):
            WebhookEvent.objects.all().delete()  # the queued dispatches will find nothing
    finally:
        tenant_destroy(tenant=tenant)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="per block (two per round)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--top", action="store_true", help="print the top functions too")
    parser.add_argument(
        "--cpu-profile", action="store_true", help="profile CPU time (process_time), not wall"
    )
    parser.add_argument("--dump", help="write the cProfile stats to FILE-with / FILE-without")
    args = parser.parse_args(argv)
    from tests.benchmarks import request_profile

    request_profile.DATABASE = DATABASE
    old_config = request_profile._setup()
    from django.db import connection
    from django.test.utils import teardown_databases

    try:
        results = measure(requests=args.requests, rounds=args.rounds, cpu_profile=args.cpu_profile)
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0, keepdb=True)
    for name, result in results.items():
        if args.top and name == "with":
            print(result["top"])
        if args.dump:
            result["profile"].dump_stats(f"{args.dump}-{name}")
    for name, result in results.items():
        blocks = ", ".join(f"{ms:.2f}" for ms in result["cpu_ms_blocks"])
        print(
            f"{name:>7} endpoints: {result['calls_per_request']:,.0f} Python calls per request;"
            f" CPU {result['cpu_ms']:.2f} ms (blocks: {blocks}); wall {result['wall_ms']:.2f} ms"
        )
    ours, theirs = results["with"], results["without"]
    print(
        f"ratio with/without: CPU {ours['cpu_ms'] / theirs['cpu_ms']:.3f}, wall"
        f" {ours['wall_ms'] / theirs['wall_ms']:.3f}, calls"
        f" {ours['calls_per_request'] / theirs['calls_per_request']:.3f};"
        f" load average {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
