"""Tenant reads from a real streaming replica (SPEC §12, ADR 0015).

The session's embedded PostgreSQL is copied with its own ``pg_basebackup -R`` into a hot
standby streaming from it (``tests/replica.py``); a real gunicorn (production settings,
2 gthread workers x 2 threads) gets ``DATABASE_URL`` = the primary and
``DATABASE_REPLICA_URL`` = the replica. Which server served a read is asked on the very
connection the ORM used (``pg_is_in_recovery()``, port: the probe view of
``tests.tenants.replica_urls``), and shown from the outside by what a request sees while
the replica's replay is paused: a row the primary has and the replica has not yet.

Ports: the replica ``TESSERA_REPLICA_TEST_PORT`` (18150), gunicorn the next one.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from tenants.authentication import tenant_token_pair
from tests.benchmarks.web import database_url
from tests.replica import REPLICA_MISSING, StreamingReplica, replica_binaries
from tests.support import seeded_products

ROOT = Path(__file__).resolve().parents[2]
REPLICA_PORT = int(os.environ.get("TESSERA_REPLICA_TEST_PORT", "18150"))
WEB_PORT = REPLICA_PORT + 1
TENANTS = {"alpha": "t_alpha", "beta": "t_beta"}
SEEDED = 10
MAX_LAG = 3.0  # REPLICA_MAX_LAG_SECONDS of the gunicorn
STICKY = 5.0  # REPLICA_STICKY_SECONDS (>= MAX_LAG + the 1 s check interval)
PROBE = "/api/v1/replica-test/reads-from/"

pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]


def report(name: str, figures: dict) -> None:
    print(f"\n[replica] {name}: {json.dumps(figures)}")


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker) -> Iterator[None]:
    """``SEEDED`` committed products in each tenant, named after it."""
    with seeded_products(django_db_blocker, TENANTS, mark="r", count=SEEDED):
        yield


@pytest.fixture(scope="module")
def replica(django_db_setup, catalog) -> Iterator[StreamingReplica]:
    if replica_binaries() is None:
        pytest.skip(REPLICA_MISSING)
    host = connection.settings_dict["HOST"]
    if not host.startswith("/"):
        pytest.skip(f"the replica is built from the embedded server's socket, not {host}")
    standby = StreamingReplica(primary_socket_dir=host, port=REPLICA_PORT)
    try:
        standby.build()
        standby.start()
        yield standby
    finally:
        standby.cleanup()


@pytest.fixture(scope="module")
def tokens(django_db_setup, django_db_blocker) -> dict[str, str]:
    """Two clients per tenant: its owner (who writes) and its viewer (who only reads)."""
    from shared_apps.accounts.models import User
    from tenants.models import Tenant

    with django_db_blocker.unblock():
        found = {}
        for subdomain, schema in TENANTS.items():
            tenant = Tenant.objects.get(schema_name=schema)
            for role in ("owner", "viewer"):
                user = User.objects.get(email=f"{role}@{subdomain}.test")
                found[f"{role}@{subdomain}"] = tenant_token_pair(user=user, tenant=tenant)["access"]
        return found


@dataclass
class Web:
    process: subprocess.Popen
    log: Path
    tokens: dict[str, str]

    def call(
        self, method: str, path: str, subdomain: str, who: str, body: dict | None = None
    ) -> tuple[int, dict | bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=30)
        headers = {"Host": f"{subdomain}.localhost" if subdomain else "localhost"}
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return 0, repr(exc).encode()
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw

    def probe(self, subdomain: str, who: str | None = None) -> dict:
        status, body = self.call("GET", PROBE, subdomain, who or f"viewer@{subdomain}")
        assert status == 200, (status, body, self.log.read_text(errors="replace")[-3000:])
        assert isinstance(body, dict)
        return body


@pytest.fixture(scope="module")
def web(replica, tokens) -> Iterator[Web]:
    log = replica.directory / "gunicorn.log"
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "tests.tenants.replica_settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
        "DATABASE_URL": database_url(connection.settings_dict),
        "DATABASE_REPLICA_URL": replica.url(connection.settings_dict["NAME"]),
        "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
        "REPLICA_STICKY_SECONDS": str(STICKY),
        "REDIS_URL": settings.REDIS_URL,
        "ROOT_DOMAIN": "localhost",
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        "GUNICORN_MAX_REQUESTS": "0",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER_RATE": "1000000/s",
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{WEB_PORT}",
                "config.wsgi:application",
            ],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Web(process=process, log=log, tokens=tokens)
    try:
        deadline = time.monotonic() + 60
        while server.call("GET", "/healthz", "", "")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def on_replica(web: Web, subdomain: str = "alpha", timeout: float = 30) -> None:
    """Until the probe is answered by the replica in every worker (the first request for a
    host in a process resolves it on the primary; then a check every second)."""
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 8:
        streak = streak + 1 if web.probe(subdomain)["in_recovery"] else 0
        if time.monotonic() > deadline:
            pytest.fail(f"reads never reached the replica:\n{web.log.read_text()[-3000:]}")
        time.sleep(0.05)


def _primary_lsn() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_flush_lsn()::text")
        return cursor.fetchone()[0]


def _wait_replayed(replica: StreamingReplica, timeout: float = 30) -> None:
    lsn = _primary_lsn()
    deadline = time.monotonic() + timeout
    while not replica.replayed(lsn):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.02)


def _insert_on_primary(schema: str, name: str) -> None:
    from tenant_apps.catalog.models import Product

    with schema_context(schema):
        Product.objects.create(name=name, slug=name, price=1)  # committed (no transaction)
    connection.set_schema_to_public()


def _paused_while_fresh(replica: StreamingReplica) -> float:
    """Pause replay right after the replica caught up with a fresh commit; returns the
    monotonic time of that commit (the replica's lag grows from there while paused)."""
    committed_at = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")  # a committed transaction: a fresh timestamp
    _wait_replayed(replica)
    replica.pause_replay()
    return committed_at


def _names(body) -> list[str]:
    return [p["name"] for p in body.get("results", [])] if isinstance(body, dict) else []


def _wrong(subdomain: str, names: list[str]) -> int:
    others = [s for s in TENANTS if s != subdomain]
    return sum(1 for n in names if any(n.startswith(f"{o}-") for o in others))


# Tests ---------------------------------------------------------------------------------------


def test_reads_are_served_by_the_replica_and_stay_in_their_tenant(web, replica):
    on_replica(web, "alpha")
    on_replica(web, "beta")
    outcomes: list[tuple[str, int, bool, int]] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            subdomain = rng.choice(list(TENANTS))
            status, body = web.call("GET", PROBE, subdomain, f"viewer@{subdomain}")
            ok = status == 200 and isinstance(body, dict)
            wrong = _wrong(subdomain, body["names"]) if ok else 0
            if ok and body["schema"] != TENANTS[subdomain]:
                wrong += 1
            served = bool(ok and body["in_recovery"] and body["port"] == REPLICA_PORT)
            with lock:
                outcomes.append((subdomain, status, served, wrong))

    done = threading.Event()
    worst_lag = [0.0]

    def watch_lag() -> None:
        # The replica replays the WAL of the whole cluster, so the other xdist worker's
        # writes (another database) make it lag too: measured as the app does (behind
        # the primary's flushed WAL, then the age of the last replayed transaction).
        with psycopg.connect(
            host=connection.settings_dict["HOST"],
            dbname="postgres",
            user=connection.settings_dict["USER"],
            autocommit=True,
        ) as primary:
            while not done.is_set():
                (flushed,) = primary.execute("SELECT pg_current_wal_flush_lsn()").fetchone()
                ((behind, age),) = replica.query(
                    "SELECT pg_last_wal_replay_lsn() < %s::pg_lsn,"
                    " extract(epoch FROM now() - pg_last_xact_replay_timestamp())",
                    (str(flushed),),
                )
                if behind and age is not None:
                    worst_lag[0] = max(worst_lag[0], float(age))
                done.wait(0.1)

    watcher = threading.Thread(target=watch_lag)
    watcher.start()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    figures = {
        "requests": len(outcomes),
        "worst_replica_lag_seconds": round(worst_lag[0], 2),
        "served_by_replica": sum(o[2] for o in outcomes),
        "wrong_tenant_rows": sum(o[3] for o in outcomes),
        "statuses": dict(Counter(o[1] for o in outcomes)),
    }
    report("reads", figures)
    assert figures["wrong_tenant_rows"] == 0
    assert figures["statuses"] == {200: 160}
    # Every read on the replica (bar a few at the start of a lag check), unless the
    # replica really fell behind the bound meanwhile (the lag check's 1 s cache: a margin).
    if worst_lag[0] < MAX_LAG - 1:
        assert figures["served_by_replica"] >= 150, figures
    else:
        assert figures["served_by_replica"] >= 80, figures

    # The real list endpoint, through the replica, holds its tenant's rows only; the other
    # tenant's token is refused there, as on the primary.
    for subdomain in TENANTS:
        status, body = web.call(
            "GET", "/api/v1/products/?page_size=100", subdomain, f"viewer@{subdomain}"
        )
        assert status == 200
        names = _names(body)
        assert _wrong(subdomain, names) == 0
        assert sum(1 for n in names if n.startswith(f"{subdomain}-r-")) == SEEDED
    status, body = web.call("GET", "/api/v1/products/", "beta", "viewer@alpha")
    assert status in (401, 403), body
    assert not _names(body)


def _stale_read(web: Web, replica: StreamingReplica, attempt) -> bool:
    """Run ``attempt(committed_at)`` with replay paused right after a fresh commit, up to 5
    times: it returns None when the machine was too slow to keep within the lag bound for
    the read that must see the replica (then it is tried again)."""
    for _ in range(5):
        on_replica(web, "alpha")
        committed_at = _paused_while_fresh(replica)
        try:
            outcome = attempt(committed_at)
        finally:
            replica.resume_replay()
        if outcome is not None:
            return outcome
    pytest.fail("five times too slow to read within the lag bound")


def test_reads_see_the_replica_and_a_writer_reads_its_own_writes(web, replica):
    def attempt(committed_at: float):
        name = f"alpha-w-{uuid.uuid4().hex[:10]}"
        status, body = web.call(
            "POST", "/api/v1/products/", "alpha", "owner@alpha", {"name": name, "price": "1.00"}
        )
        assert status == 201, body
        # Another client of the same tenant, which wrote nothing: the replica, which has
        # not replayed the write (the lag is still within the bound).
        other = web.probe("alpha", "viewer@alpha")
        if time.monotonic() - committed_at > MAX_LAG - 0.3 or not other["in_recovery"]:
            # Too slow, or the app's lag check (cached for 1 s) last saw the replica
            # behind: the cluster's WAL includes the other xdist worker's writes.
            return None
        # The writer itself: the primary, for REPLICA_STICKY_SECONDS.
        mine = web.probe("alpha", "owner@alpha")
        status, body = web.call("GET", "/api/v1/products/?page_size=100", "alpha", "owner@alpha")
        return name, other, mine, status, _names(body)

    name, other, mine, status, names = _stale_read(web, replica, attempt)
    report(
        "read-your-writes",
        {"other_client_on_replica": other["in_recovery"], "writer_on_replica": mine["in_recovery"]},
    )
    assert other["in_recovery"] is True and other["port"] == REPLICA_PORT
    assert name not in other["names"]  # the replica had not replayed it
    assert mine["in_recovery"] is False and name in mine["names"]
    assert status == 200 and name in names
    # Once the window has passed (and the replica caught up), the writer is back on it:
    # at once on a quiet machine; within a few lag checks when the other xdist worker's
    # writes (the same cluster's WAL) keep the replica a little behind.
    _wait_replayed(replica)
    time.sleep(STICKY + 0.2)
    deadline = time.monotonic() + 10
    back = web.probe("alpha", "owner@alpha")
    while not back["in_recovery"] and time.monotonic() < deadline:
        _wait_replayed(replica)
        time.sleep(1.1)  # the lag check's interval
        back = web.probe("alpha", "owner@alpha")
    assert back["in_recovery"] is True and name in back["names"]


def test_a_replica_lagging_past_the_bound_is_skipped(web, replica):
    def attempt(committed_at: float):
        name = f"alpha-lag-{uuid.uuid4().hex[:10]}"
        _insert_on_primary("t_alpha", name)
        within = web.probe("alpha")
        if time.monotonic() - committed_at > MAX_LAG - 0.3:
            return None
        # Past the bound (plus the check interval): every read goes to the primary.
        while time.monotonic() - committed_at < MAX_LAG + 1.5:
            time.sleep(0.1)
        past = [web.probe("alpha") for _ in range(6)]
        lag = replica.query(
            "SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
        )[0][0]
        return name, within, past, float(lag)

    name, within, past, lag = _stale_read(web, replica, attempt)
    report("lag", {"replica_lag_seconds": round(lag, 1), "bound": MAX_LAG})
    assert lag > MAX_LAG
    assert within["in_recovery"] is True and name not in within["names"]
    assert all(p["in_recovery"] is False and name in p["names"] for p in past)
    # Replay resumed: the replica catches up and serves again, with the row.
    _wait_replayed(replica)
    on_replica(web, "alpha")
    assert name in web.probe("alpha")["names"]


def test_a_replica_that_dies_then_returns(web, replica):
    on_replica(web, "alpha")
    on_replica(web, "beta")
    stop = threading.Event()
    outcomes: list[tuple[float, str, int, bool | None, int]] = []
    lock = threading.Lock()
    started = time.monotonic()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            subdomain = rng.choice(list(TENANTS))
            status, body = web.call("GET", PROBE, subdomain, f"viewer@{subdomain}")
            ok = status == 200 and isinstance(body, dict)
            wrong = (
                (_wrong(subdomain, body["names"]) + (body["schema"] != TENANTS[subdomain]))
                if ok
                else 0
            )
            with lock:
                outcomes.append(
                    (
                        time.monotonic() - started,
                        subdomain,
                        status,
                        body["in_recovery"] if ok else None,
                        wrong,
                    )
                )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        killed_at = time.monotonic() - started
        replica.stop("immediate")  # every backend gone at once, mid-query
        time.sleep(3.0)
        restarted_at = time.monotonic() - started
        replica.start()
        deadline = time.monotonic() + 30
        while True:
            with lock:
                recent = [o for o in outcomes if o[0] > time.monotonic() - started - 0.5]
            if recent and any(o[3] for o in recent):
                break
            assert time.monotonic() < deadline, "reads never returned to the replica"
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    down = [o for o in outcomes if killed_at + 0.5 < o[0] < restarted_at]
    figures = {
        "requests": len(outcomes),
        "statuses": dict(Counter(o[2] for o in outcomes)),
        "wrong_tenant_rows": sum(o[4] for o in outcomes),
        "while_down": len(down),
        "while_down_on_replica": sum(1 for o in down if o[3]),
        "after_restart_on_replica": sum(1 for o in outcomes if o[0] > restarted_at and o[3]),
    }
    report("replica killed and restarted", figures)
    if os.environ.get("TESSERA_KEEP_WEB_LOG"):
        Path(os.environ["TESSERA_KEEP_WEB_LOG"]).write_text(web.log.read_text(errors="replace"))
    assert figures["wrong_tenant_rows"] == 0
    assert set(figures["statuses"]) == {200}, [
        line for line in web.log.read_text(errors="replace").splitlines() if '"ERROR"' in line
    ][-3:]
    assert down and figures["while_down_on_replica"] == 0
    assert figures["after_restart_on_replica"] > 0


def test_writes_and_the_public_host_stay_on_the_primary(web, replica):
    on_replica(web, "alpha")
    # A write request runs on the primary whatever its reads.
    name = f"alpha-p-{uuid.uuid4().hex[:10]}"
    status, body = web.call(
        "POST", "/api/v1/products/", "alpha", "owner@alpha", {"name": name, "price": "1.00"}
    )
    assert status == 201
    # The platform's host (admin, sign-up) never uses the replica: its login page works
    # with the replica stopped, and nothing there was rerouted.
    replica.stop("fast")
    try:
        status, _ = web.call("GET", "/admin/login/", "", "")
        assert status in (200, 302)  # the admin's sign-in (or its MFA step), not a 5xx
        body = web.probe("alpha")
        assert body["in_recovery"] is False and name in body["names"]
    finally:
        replica.start()
    _wait_replayed(replica)
    on_replica(web, "alpha")
