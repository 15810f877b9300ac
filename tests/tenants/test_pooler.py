"""Tenancy behind a real PgBouncer in transaction mode (SPEC §12, ADR 0014).

A PgBouncer (Debian's package) with a pool of 3 server connections sits in front of this
session's test database; a real gunicorn (production settings, 3 gthread workers x 3
threads: 9 database clients, ``tests/servers.py``) and a real Celery worker connect
through it, each started once for the module and shared by its tests (each test leaves
the pool as it found it: PgBouncer's settings reset, its connections released). The pool is
smaller than the number of clients, so consecutive transactions of one client land on
different server connections all the time: a search_path set for a server *session*
(the old routing) shows up in other tenants' requests. Every check counts rows of the
wrong tenant, which must be 0.

Ports: free ones; ``TESSERA_POOLER_TEST_PORT`` fixes them (PgBouncer there, gunicorn 10
above).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from tenants.authentication import tenant_token_pair
from tests import celery_support
from tests.celery_support import Worker, wait_for
from tests.pgbouncer import PGBOUNCER_MISSING, PgBouncer, pgbouncer_binary
from tests.servers import CommandRunner, Gunicorn, free_port, http_call, web_environment
from tests.support import seeded_products

_FIXED = os.environ.get("TESSERA_POOLER_TEST_PORT")
BOUNCER_PORT = int(_FIXED) if _FIXED else free_port()
WEB_PORT = BOUNCER_PORT + 10 if _FIXED else free_port()
POOL_SIZE = 3
APPLICATION_NAME = "tessera-pooled"
TENANTS = {"alpha": "t_alpha", "beta": "t_beta"}
SEEDED = 20  # products per tenant

celery_prefix = celery_support.celery_prefix
# Committed data (conftest's committed_db): the gunicorns and the worker read it.
pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bouncer(django_db_setup) -> Iterator[PgBouncer]:
    if pgbouncer_binary() is None:
        pytest.skip(PGBOUNCER_MISSING)
    host = connection.settings_dict["HOST"]
    if not host.startswith("/"):
        pytest.skip(f"the pooler tests start PgBouncer on the embedded server's socket, not {host}")
    pooler = PgBouncer(port=BOUNCER_PORT, upstream_socket_dir=host, pool_size=POOL_SIZE)
    pooler.start()
    try:
        yield pooler
    finally:
        pooler.cleanup()


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker) -> Iterator[None]:
    """``SEEDED`` committed products in each tenant, named after it."""
    with seeded_products(django_db_blocker, TENANTS, mark="p", count=SEEDED):
        yield


@pytest.fixture(scope="module")
def tokens(django_db_setup, django_db_blocker) -> dict[str, str]:
    from shared_apps.accounts.models import User
    from tenants.models import Tenant

    with django_db_blocker.unblock():
        return {
            subdomain: tenant_token_pair(
                user=User.objects.get(email=f"owner@{subdomain}.test"),
                tenant=Tenant.objects.get(schema_name=schema),
            )["access"]
            for subdomain, schema in TENANTS.items()
        }


@pytest.fixture(scope="module")
def web(bouncer, catalog, tokens, commands, _booting_worker) -> Iterator[Web]:
    # (``commands`` and the worker are started here only so that they boot while the web
    # tests run.)
    environment = web_environment(
        "tests.tenants.pooler_settings",
        DATABASE_URL=bouncer.url(
            connection.settings_dict["NAME"], application_name=APPLICATION_NAME
        ),
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="3",
    )
    server = Gunicorn(
        environment=environment, log=bouncer.directory / "gunicorn.log", port=WEB_PORT
    )
    server.start()
    try:
        yield Web(server=server, log=server.log, tokens=tokens)
    finally:
        server.stop()


# Load -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    tenant: str
    kind: str
    status: int
    wrong: int  # rows (or schemas) of another tenant in the answer
    detail: str = ""
    at: float = 0.0
    took: float = 0.0


@dataclass
class Web:
    server: Gunicorn
    log: Path
    tokens: dict[str, str]

    def call(
        self,
        method: str,
        path: str,
        host: str,
        *,
        token: str | None = None,
        body: dict | None = None,
        conn: http.client.HTTPConnection | None = None,
        timeout: float = 30,
    ) -> tuple[int, bytes]:
        return http_call(
            WEB_PORT, method, path, host, token=token, body=body, conn=conn, timeout=timeout
        )


def _names_wrong(subdomain: str, names: list[str]) -> int:
    return sum(1 for name in names if not name.startswith(f"{subdomain}-"))


def one_request(web: Web, conn: http.client.HTTPConnection, subdomain: str, kind: str) -> Outcome:
    host, token = f"{subdomain}.localhost", web.tokens[subdomain]
    schema = TENANTS[subdomain]
    if kind == "list":
        status, raw = web.call(
            # The seeded products of both tenants match "-p-" (writes are "-w-"), so the
            # page holds all 20 of this tenant's, and any of the other's if routing leaked.
            "GET",
            "/api/v1/products/?search=-p-&page_size=100",
            host,
            token=token,
            conn=conn,
        )
        if status != 200:
            return Outcome(subdomain, kind, status, 0, raw[:300].decode(errors="replace"))
        names = [p["name"] for p in json.loads(raw)["results"]]
        seeded = sum(1 for n in names if n.startswith(f"{subdomain}-p-"))
        detail = "" if seeded == SEEDED else f"{seeded} of its {SEEDED} seeded products"
        return Outcome(subdomain, kind, status, _names_wrong(subdomain, names), detail)
    if kind == "where":
        status, raw = web.call("GET", "/api/v1/pooler-test/where/", host, token=token, conn=conn)
        if status != 200:
            return Outcome(subdomain, kind, status, 0, raw[:300].decode(errors="replace"))
        body = json.loads(raw)
        wrong = sum(1 for s in body["schemas"] if s != schema) + _names_wrong(
            subdomain, body["names"]
        )
        return Outcome(subdomain, kind, status, wrong)
    if kind == "write":
        name = f"{subdomain}-w-{uuid.uuid4().hex[:12]}"
        status, raw = web.call(
            "POST",
            "/api/v1/products/",
            host,
            token=token,
            body={"name": name, "price": "1.00"},
            conn=conn,
        )
        return Outcome(subdomain, kind, status, 0, name if status == 201 else raw[:300].decode())
    if kind == "fail":
        name = f"{subdomain}-midway-{uuid.uuid4().hex[:12]}"
        status, raw = web.call(
            "POST",
            "/api/v1/pooler-test/fail-midway/",
            host,
            token=token,
            body={"name": name},
            conn=conn,
        )
        return Outcome(subdomain, kind, status, 0, name)
    if kind == "statement-fails":
        status, raw = web.call(
            "GET", "/api/v1/pooler-test/statement-fails/", host, token=token, conn=conn
        )
        if status != 200:
            return Outcome(subdomain, kind, status, 0, raw[:300].decode(errors="replace"))
        return Outcome(
            subdomain, kind, status, sum(s != schema for s in json.loads(raw)["schemas"])
        )
    raise ValueError(kind)


EXPECTED = {"list": 200, "where": 200, "write": 201, "fail": 500, "statement-fails": 200}
MIX = ["list"] * 12 + ["where"] * 5 + ["write", "fail", "statement-fails"]


def hammer(
    web: Web,
    *,
    requests: int,
    clients: int = 8,
    mix: list[str] = MIX,
    stop: threading.Event | None = None,
    outcomes: list[Outcome] | None = None,
) -> list[Outcome]:
    """``requests`` requests (or until ``stop`` is set) from ``clients`` keep-alive
    clients, tenants and kinds interleaved at random; each outcome is appended to
    ``outcomes`` (a new list by default) as it comes, for a caller that watches it."""
    outcomes = [] if outcomes is None else outcomes
    lock = threading.Lock()
    counter = iter(range(requests))
    started = time.monotonic()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        # Each client goes through the mix in a shuffled order, again and again: every
        # kind comes in its share even in a short run; the tenant is drawn each time.
        kinds = rng.sample(mix, len(mix))
        done = 0
        conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
        try:
            while stop is None or not stop.is_set():
                with lock:
                    if next(counter, None) is None:
                        return
                begun = time.monotonic()
                kind = kinds[done % len(kinds)]
                done += 1
                outcome = one_request(web, conn, rng.choice(list(TENANTS)), kind)
                outcome.took = time.monotonic() - begun
                outcome.at = time.monotonic() - started
                with lock:
                    outcomes.append(outcome)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _summary(outcomes: list[Outcome]) -> dict:
    return {
        "requests": len(outcomes),
        "wrong_tenant_rows": sum(o.wrong for o in outcomes),
        "statuses": dict(Counter(f"{o.kind} {o.status}" for o in outcomes)),
    }


def _unexpected(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status != EXPECTED[o.kind] or (o.detail and o.kind == "list")]


def _products(schema: str, prefix: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT name FROM "{schema}".catalog_product WHERE name LIKE %s',
            [prefix + "%"],
        )
        return [row[0] for row in cursor.fetchall()]


def _assert_writes_landed(outcomes: list[Outcome]) -> None:
    """Every acknowledged write is in its own tenant's schema and nowhere else; no write of
    a request that failed mid-way survived anywhere."""
    for subdomain, schema in TENANTS.items():
        here = set(_products(schema, ""))
        for outcome in outcomes:
            if outcome.kind == "write" and outcome.status == 201:
                assert (outcome.detail in here) == (outcome.tenant == subdomain), outcome
            if outcome.kind == "fail":
                assert outcome.detail not in here, outcome
    assert not _products("public", "alpha-") if _has_public_catalog() else True


def _has_public_catalog() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.catalog_product') IS NOT NULL")
        return cursor.fetchone()[0]


def _server_connections() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = %s",
            [APPLICATION_NAME],
        )
        return [row[0] for row in cursor.fetchall()]


def report(name: str, figures: dict) -> None:
    print(f"\n[pooler] {name}: {json.dumps(figures)}")


# Tests ---------------------------------------------------------------------------------------


# Enough to catch a leak many times over, not a load test (``make bench`` runs 10,000+):
# 8 clients share 9 gunicorn threads and 3 server connections, so nearly every
# transaction lands on a server connection that another tenant's request used last, and
# a search_path left on a server session (the old routing) shows in most of the ~136
# list/where requests. Writes, failures and failed statements come ~8 times each (each
# client goes through the mix in turn).
CONCURRENT_REQUESTS = 160


def test_concurrent_requests_of_two_tenants_never_see_each_other(web, bouncer):
    outcomes = hammer(web, requests=CONCURRENT_REQUESTS)
    report("requests", _summary(outcomes))
    assert sum(o.wrong for o in outcomes) == 0, [o for o in outcomes if o.wrong][:5]
    assert _unexpected(outcomes) == [], _unexpected(outcomes)[:5]
    assert len(outcomes) == CONCURRENT_REQUESTS
    assert {o.kind for o in outcomes} == set(EXPECTED)  # every kind really ran
    assert {o.tenant for o in outcomes if o.kind == "where"} == set(TENANTS)
    _assert_writes_landed(outcomes)
    # The pool really was smaller than the clients: PgBouncer never opened more.
    assert len(_server_connections()) <= POOL_SIZE


def test_a_request_that_fails_mid_way_leaves_the_connection_routing_right(web):
    # One client, one keep-alive connection, hence one gunicorn thread's database
    # connection in turn: fail in alpha, then ask beta where it runs, over and over.
    conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
    try:
        outcomes = []
        for _ in range(8):  # each round switches tenant after a failure, 4 times
            outcomes.append(one_request(web, conn, "alpha", "fail"))
            outcomes.append(one_request(web, conn, "beta", "where"))
            outcomes.append(one_request(web, conn, "alpha", "statement-fails"))
            outcomes.append(one_request(web, conn, "beta", "list"))
    finally:
        conn.close()
    assert sum(o.wrong for o in outcomes) == 0
    assert _unexpected(outcomes) == []
    _assert_writes_landed(outcomes)


def _holders(bouncer: PgBouncer, count: int) -> list:
    """``count`` clients of PgBouncer that each keep a server connection busy (an open
    transaction), as long-running requests would."""
    import psycopg

    holders = []
    for _ in range(count):
        holder = psycopg.connect(
            bouncer.url(connection.settings_dict["NAME"]), cursor_factory=psycopg.ClientCursor
        )
        holder.execute("SELECT 1")  # psycopg opened a transaction: the server is pinned
        holders.append(holder)
    return holders


def test_an_exhausted_pool_answers_503_within_the_bound_then_recovers(web, bouncer):
    bouncer.admin("SET query_wait_timeout = 1")
    holders = _holders(bouncer, POOL_SIZE)
    try:
        started = time.monotonic()
        status, raw = web.call(
            "GET", "/api/v1/products/", "alpha.localhost", token=web.tokens["alpha"]
        )
        waited = time.monotonic() - started
        assert status == 503, raw[:300]
        assert json.loads(raw)["error"]["code"] == "database_unavailable"
        assert waited < 5  # the pooler's bound (1 s), plus the request itself
        status, raw = web.call("GET", "/admin/login/", "localhost")
        assert status == 503
    finally:
        for holder in holders:
            holder.close()
        bouncer.admin("SET query_wait_timeout = 30")
    outcomes = hammer(web, requests=30, mix=["list", "where"])
    assert sum(o.wrong for o in outcomes) == 0
    assert _unexpected(outcomes) == [], _unexpected(outcomes)[:3]


def _sleeping_server_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'",
            [APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def test_a_pool_held_by_slow_requests_under_load_waits_then_answers_503(web, bouncer):
    """Every server connection held by requests of the app itself (slow transactions), while
    6 more clients of both tenants keep asking: each waits at most PgBouncer's bound, then
    answers 503 database_unavailable, or gets its rows -- its own tenant's only."""
    bound = 1  # PgBouncer's query_wait_timeout (whole seconds, checked about every second)
    bouncer.admin(f"SET query_wait_timeout = {bound}")
    held: list[tuple[int, float]] = []

    def hold(subdomain: str) -> None:
        started = time.monotonic()
        status, _ = web.call(
            "GET",
            "/api/v1/pooler-test/hold/?seconds=2.5",
            f"{subdomain}.localhost",
            token=web.tokens[subdomain],
        )
        held.append((status, time.monotonic() - started))

    holders = [
        threading.Thread(target=hold, args=(["alpha", "beta"][n % 2],)) for n in range(POOL_SIZE)
    ]
    try:
        for thread in holders:
            thread.start()
        # The slow requests have their server connections (so the load below waits).
        wait_for(lambda: _sleeping_server_connections() == POOL_SIZE, what="slow requests")
        stop = threading.Event()
        timer = threading.Timer(1.5, stop.set)  # waits of the bound, then the release
        timer.start()
        outcomes = hammer(web, requests=100_000, clients=6, mix=["list", "where"], stop=stop)
        for thread in holders:
            thread.join()
    finally:
        bouncer.admin("SET query_wait_timeout = 30")
    figures = {
        **_summary(outcomes),
        "longest_wait_seconds": round(max((o.took for o in outcomes), default=0), 2),
        "held": [status for status, _ in held],
        "bound_seconds": bound,
    }
    report("pool held by slow requests", figures)
    assert figures["wrong_tenant_rows"] == 0
    assert {o.status for o in outcomes} <= {200, 503}, _unexpected(outcomes)[:3]
    unavailable = [o for o in outcomes if o.status == 503]
    assert unavailable, "the pool was never exhausted"
    assert all("database_unavailable" in o.detail for o in unavailable), unavailable[:3]
    assert [status for status, _ in held] == [200] * POOL_SIZE
    # No request waited much past the bound: PgBouncer checks it about once a second, and
    # the request's own work on this busy machine comes on top.
    assert figures["longest_wait_seconds"] < bound + 3, figures
    # Released, the pool serves everyone again, without a restart.
    after = hammer(web, requests=30, mix=["list", "where"])
    assert sum(o.wrong for o in after) == 0
    assert _unexpected(after) == [], _unexpected(after)[:3]


def _fault_under_load(web: Web, fault) -> list[Outcome]:
    """The fault while 8 clients keep asking: once 30 requests have been answered; the
    load goes on until 30 more have been answered as expected after the fault (the
    service came back), or 10 s."""
    stop = threading.Event()
    outcomes: list[Outcome] = []
    loader = threading.Thread(
        target=hammer,
        args=(web,),
        kwargs={
            "requests": 100_000,
            "mix": ["list", "where", "write"],
            "stop": stop,
            "outcomes": outcomes,
        },
    )
    loader.start()
    try:
        wait_for(lambda: len(outcomes) >= 30, timeout=30, what="the load")
        fault()
        faulted = len(outcomes)

        def recovered() -> bool:
            after = outcomes[faulted:]
            return sum(o.status == EXPECTED[o.kind] for o in after) >= 30

        wait_for(recovered, timeout=10, what="requests answered after the fault")
    finally:
        stop.set()
        loader.join()
    return outcomes


def _assert_survived(name: str, outcomes: list[Outcome], web: Web) -> None:
    report(name, _summary(outcomes))
    if os.environ.get("TESSERA_KEEP_WEB_LOG"):
        Path(os.environ["TESSERA_KEEP_WEB_LOG"]).write_text(web.log.read_text(errors="replace"))
    assert sum(o.wrong for o in outcomes) == 0, [o for o in outcomes if o.wrong][:5]
    # Requests in flight may fail -- as a clear 503 -- but never as a 500 ...
    assert {o.status for o in outcomes if o.status != EXPECTED[o.kind]} <= {503}, (
        [o for o in outcomes if o.status not in (EXPECTED[o.kind], 503)][:3],
        web.log.read_text(errors="replace")[-4000:],
    )
    _assert_writes_landed(outcomes)
    # ... and the service recovers by itself, without a restart.
    after = hammer(web, requests=30, mix=["list", "where", "write"])
    assert sum(o.wrong for o in after) == 0
    assert _unexpected(after) == [], _unexpected(after)[:3]
    _assert_writes_landed(after)


def test_pgbouncer_restarted_mid_load(web, bouncer):
    _assert_survived("pgbouncer restart", _fault_under_load(web, bouncer.restart), web)


def test_server_connections_killed_mid_load(web, bouncer):
    def kill() -> None:
        pids = _server_connections()
        assert pids
        with connection.cursor() as cursor:
            for pid in pids:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    _assert_survived("server connections killed", _fault_under_load(web, kill), web)


# Background work and commands ---------------------------------------------------------------


@pytest.fixture(scope="module")
def _booting_worker(bouncer, celery_prefix) -> Iterator[tuple[Worker, threading.Thread, list]]:
    """A worker of its own (queue ``pooler``) whose database connection is PgBouncer,
    started in the background (``web`` asks for it first, so it boots while the web
    tests run; ``pooled_worker`` waits for it)."""
    worker = Worker(
        database=connection.settings_dict["NAME"],
        prefix=celery_prefix,
        concurrency=3,
        queues="pooler",
        env={
            "DATABASE_URL": bouncer.url(
                connection.settings_dict["NAME"], application_name=APPLICATION_NAME
            )
        },
    )
    errors: list[BaseException] = []

    def boot() -> None:
        try:
            worker.start(timeout=120)
        except BaseException as exc:
            errors.append(exc)

    booting = threading.Thread(target=boot, daemon=True)
    booting.start()
    try:
        yield worker, booting, errors
    finally:
        booting.join(timeout=130)
        # SIGKILL: nothing is checked at the end, and its warm shutdown can take seconds.
        worker.kill_and_forget()


@pytest.fixture(scope="module")
def pooled_worker(_booting_worker) -> Worker:
    worker, booting, errors = _booting_worker
    booting.join(timeout=130)
    if errors:
        raise errors[0]
    assert worker.process is not None and worker.process.poll() is None, worker.log()[-3000:]
    return worker


def test_interleaved_tasks_of_two_tenants_through_the_pooler(pooled_worker, celery_prefix):
    from django_tenants.utils import tenant_context

    from tenants.models import Tenant
    from tests.background_tasks import probe, public_probe
    from tests.celery_support import clear_probe_tables, probe_rows

    clear_probe_tables(celery_support.PROBE_SCHEMAS)
    tenants = {s: Tenant.objects.get(schema_name=schema) for s, schema in TENANTS.items()}
    per_tenant = 20  # 60 tasks, interleaved over 3 worker processes sharing 3 connections
    try:
        for n in range(per_tenant):
            for subdomain, tenant in tenants.items():
                with tenant_context(tenant):
                    probe.apply_async(args=[f"{subdomain}-{n}"], queue="pooler")
            public_probe.apply_async(args=[f"public-{n}"], queue="pooler")
        connection.set_schema_to_public()
        wait_for(
            lambda: (
                all(len(probe_rows(s)) >= per_tenant for s in TENANTS.values())
                and len(probe_rows("public")) >= per_tenant
            ),
            timeout=60,
            what="every task",
        )
        time.sleep(0.3)  # anything that would land twice has landed
        wrong = 0
        for subdomain, schema in TENANTS.items():
            rows = probe_rows(schema)
            assert len(rows) == per_tenant
            wrong += sum(1 for token, *_ in rows if not token.startswith(f"{subdomain}-"))
            # The statement itself ran in the tenant's schema (RETURNING current_schema()).
            assert {(r[2]) for r in rows} == {schema}
        public = probe_rows("public")
        wrong += sum(1 for token, *_ in public if not token.startswith("public-"))
        report("tasks", {"tasks": per_tenant * 3, "wrong_tenant_rows": wrong})
        assert wrong == 0
        assert len(public) == per_tenant
    finally:
        connection.set_schema_to_public()
        clear_probe_tables(celery_support.PROBE_SCHEMAS)


@pytest.fixture(scope="module")
def commands(bouncer) -> Iterator[CommandRunner]:
    """``manage.py`` (test settings) whose database is PgBouncer, each command in a fresh
    forked process (tests/servers.py), as ``python manage.py ...`` would run it."""
    runner = CommandRunner(
        environment={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": bouncer.url(
                connection.settings_dict["NAME"], application_name=APPLICATION_NAME
            ),
        }
    ).start()
    try:
        yield runner
    finally:
        runner.stop()


def test_migrate_tenants_through_the_pooler(commands):
    from billing.selectors import plan_get_for_signup
    from shared_apps.organizations.models import Organization
    from tenants.models import Tenant
    from tenants.services import tenant_destroy

    schema = "t_pooler_mig"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    tenant = Tenant.objects.create(
        schema_name=schema,
        subdomain="pooler-mig",
        name="pooler-mig",
        organization=Organization.objects.create(name="pooler-mig", slug="pooler-mig"),
        plan=plan_get_for_signup(code="starter"),
        status="active",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_name = 'catalog_product'"
            )
            before = set(cursor.fetchall())
        completed = commands.run("migrate_tenants", "--schemas", schema, "--processes", "2")
        assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
        assert "1 migrated, 0 failed" in completed.stdout, completed.stdout[-2000:]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_name = 'catalog_product'"
            )
            after = set(cursor.fetchall())
            cursor.execute(f'SELECT count(*) FROM "{schema}".django_migrations')
            recorded = cursor.fetchone()[0]
        # The tables went to the new schema, and only there.
        assert after - before == {(schema, "catalog_product")}
        from tenants.migrating import expected_migrations

        assert recorded >= len(expected_migrations())
        again = commands.run("migrate_tenants", "--schemas", schema)
        assert again.returncode == 0 and "0 migrated, 0 failed" in again.stdout, again.stdout
    finally:
        connection.set_schema_to_public()
        tenant_destroy(tenant=Tenant.objects.get(pk=tenant.pk))


def test_run_for_tenants_through_the_pooler(commands):
    from datetime import timedelta

    from django.utils import timezone

    expired = timezone.now() - timedelta(days=1)
    keys = {}
    with connection.cursor() as cursor:
        for schema in ("public", *TENANTS.values()):
            key = f"pooler{uuid.uuid4().hex[:20]}"
            keys[schema] = key
            cursor.execute(
                f'INSERT INTO "{schema}".django_session (session_key, session_data, expire_date)'
                " VALUES (%s, '', %s)",
                [key, expired],
            )
    try:
        completed = commands.run(
            "run_for_tenants",
            "--schemas",
            ",".join(TENANTS.values()),
            "clearsessions",
        )
        assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
        remaining = {}
        with connection.cursor() as cursor:
            for schema, key in keys.items():
                cursor.execute(
                    f'SELECT count(*) FROM "{schema}".django_session WHERE session_key = %s',
                    [key],
                )
                remaining[schema] = cursor.fetchone()[0]
        # Cleared in each tenant that was named, and not on public (not a tenant).
        assert remaining == {"public": 1, "t_alpha": 0, "t_beta": 0}
    finally:
        with connection.cursor() as cursor:
            for schema, key in keys.items():
                cursor.execute(
                    f'DELETE FROM "{schema}".django_session WHERE session_key = %s',
                    [key],
                )


def test_advisory_locks_hold_behind_the_pooler(commands, bouncer):
    """The fan-out and migrate_tenants locks are transaction-level on a connection held
    in a transaction: through PgBouncer, a second taker is refused while the first holds
    it, and it is free again right after (a session lock would stay with whichever server
    connection took it, and "unlock" could land on another)."""
    # One process, two threads: each ``job_lock`` opens a connection of its own to
    # PgBouncer (so its own server connection), as two processes would.
    script = """
import json, threading
from tenants.background.fanout import job_lock

held, release, seen = threading.Event(), threading.Event(), []

def holder():
    with job_lock("pooler-lock-test") as got:
        seen.append(("holder", got))
        held.set()
        release.wait(60)

thread = threading.Thread(target=holder)
thread.start()
assert held.wait(60)
with job_lock("pooler-lock-test") as got:
    seen.append(("while held", got))
release.set()
thread.join()
with job_lock("pooler-lock-test") as got:
    seen.append(("after", got))
print(json.dumps(seen))
"""
    done = commands.python(script)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        ["holder", True],
        ["while held", False],  # refused while the holder holds it
        ["after", True],  # released when the block ended
    ]
