"""One tenant API request, profiled in process: Python calls and CPU milliseconds.

``python -m tests.benchmarks.request_profile`` seeds the benchmark's API tenant (50
products, ``seed_api_tenant``) on a throw-away database, then sends ``GET
/api/v1/products/?page_size=20`` (and the other list endpoints with ``--path``) straight
to Django's WSGI handler -- the whole middleware stack, JWT authentication, the tenant
gate, throttles, the view and the renderer, as gunicorn calls it, minus the socket. The
access log is written (JSON, to ``/dev/null``) as deployed.

It prints, per request: the Python function calls under ``cProfile`` (deterministic: the
same code path makes the same calls, whatever the machine's load), the CPU time of the
process (``time.process_time``: what the request costs a core, less sensitive to other
processes than wall time) without the profiler, and the functions with the most own
time. Used for the before/after table of docs/performance.md (issue 15).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("LOG_LEVEL", "WARNING")

DATABASE = "tessera_profile"


def _setup():
    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": DATABASE}
    # As deployed: no static-file finders scanned per request, DEBUG off.
    settings.DEBUG = False
    settings.WHITENOISE_AUTOREFRESH = False
    settings.WHITENOISE_USE_FINDERS = False
    django.setup()
    from django.test.utils import setup_databases

    from shared_apps.core.observability import JsonFormatter

    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - process-long
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("tessera.access")
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False
    return setup_databases(verbosity=0, interactive=False, keepdb=True)


def _environ(path: str, host: str, token: str) -> dict:
    from django.test.client import RequestFactory

    target, _, query = path.partition("?")
    environ = RequestFactory()._base_environ(  # the WSGI environ Django's tests build
        PATH_INFO=target,
        QUERY_STRING=query,
        REQUEST_METHOD="GET",
        HTTP_HOST=host,
        HTTP_AUTHORIZATION=f"Bearer {token}",
        SERVER_NAME=host,
    )
    return environ


def measure(path: str, *, requests: int, rounds: int) -> dict:
    from django.core.handlers.wsgi import WSGIHandler

    from tenants.services import tenant_destroy
    from tests.benchmarks.__main__ import seed_api_tenant

    tenant, host, token = seed_api_tenant()
    application = WSGIHandler()
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def one() -> None:
        response = application(_environ(path, host, token), start_response)
        b"".join(response)
        response.close()

    try:
        for _ in range(30):  # warm-up: imports, caches, connections
            one()
        assert set(statuses) == {"200 OK"}, set(statuses)
        cpu, wall = [], []
        for _ in range(rounds):
            started_cpu, started = time.process_time(), time.perf_counter()
            for _ in range(requests):
                one()
            cpu.append((time.process_time() - started_cpu) * 1000 / requests)
            wall.append((time.perf_counter() - started) * 1000 / requests)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            one()
        profiler.disable()
        assert set(statuses) == {"200 OK"}, set(statuses)
    finally:
        tenant_destroy(tenant=tenant)
    stats = pstats.Stats(profiler)
    calls = stats.total_calls  # type: ignore[attr-defined]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return {
        "path": path,
        "calls_per_request": calls / requests,
        "cpu_ms": statistics.median(cpu),
        "cpu_ms_rounds": cpu,
        "wall_ms": statistics.median(wall),
        "top": out.getvalue(),
        "profile": stats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/api/v1/products/?page_size=20")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", action="store_true", help="print the top functions too")
    parser.add_argument("--dump", help="write the cProfile stats to this file")
    args = parser.parse_args(argv)
    old_config = _setup()
    from django.db import connection
    from django.test.utils import teardown_databases

    try:
        result = measure(args.path, requests=args.requests, rounds=args.rounds)
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0, keepdb=True)
    if args.top:
        print(result["top"])
    if args.dump:
        result["profile"].dump_stats(args.dump)
    rounds = ", ".join(f"{ms:.2f}" for ms in result["cpu_ms_rounds"])
    print(
        f"{result['path']}: {result['calls_per_request']:,.0f} Python calls per request; "
        f"CPU {result['cpu_ms']:.2f} ms per request (median of rounds: {rounds}); "
        f"wall {result['wall_ms']:.2f} ms; load average {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
