"""Tenant reads from a real streaming replica (SPEC §12, ADR 0015).

A small primary PostgreSQL of this module's own, holding a copy of the session's test
database, and a hot standby streaming from it (``tests/replica.py``: both copies of one
cached ``initdb`` cluster, so the replica follows only this module's writes, never the
other xdist worker's); a real gunicorn (production settings, 2 gthread workers x 2
threads, ``tests/servers.py``) gets ``DATABASE_URL`` = that primary and
``DATABASE_REPLICA_URL`` = the replica. Which server served a read is asked on the very
connection the ORM used (``pg_is_in_recovery()``, port: the probe view of
``tests.tenants.replica_urls``), and shown from the outside by what a request sees while
the replica's replay is paused: a row the primary has and the replica has not yet.

The lag bound, the sticky window and the lag check's interval are set small (below), so
that each fault is seen in a fraction of a second.

Ports: free ones; ``TESSERA_REPLICA_TEST_PORT`` fixes them (the replica there, the
primary the next one, gunicorn the one after).
"""

from __future__ import annotations

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

import psycopg
import pytest
from django.db import connection

from tenants.authentication import tenant_token_pair
from tests.benchmarks.web import database_url
from tests.replica import REPLICA_MISSING, ReplicatedCluster, StreamingReplica, replica_binaries
from tests.servers import Gunicorn, free_port, http_call, web_environment
from tests.support import seeded_products

_FIXED = os.environ.get("TESSERA_REPLICA_TEST_PORT")
REPLICA_PORT = int(_FIXED) if _FIXED else free_port()
PRIMARY_PORT = REPLICA_PORT + 1 if _FIXED else free_port()
WEB_PORT = REPLICA_PORT + 2 if _FIXED else free_port()
TENANTS = {"alpha": "t_alpha", "beta": "t_beta"}
SEEDED = 10
MAX_LAG = 1.5  # REPLICA_MAX_LAG_SECONDS of the gunicorn
CHECK = 0.25  # REPLICA_CHECK_SECONDS: each process checks the lag this often
STICKY = 2.0  # REPLICA_STICKY_SECONDS (>= MAX_LAG + CHECK)
PROBE = "/api/v1/replica-test/reads-from/"

pytestmark = [pytest.mark.usefixtures("committed_db"), pytest.mark.xdist_group(__name__)]


def report(name: str, figures: dict) -> None:
    print(f"\n[replica] {name}: {json.dumps(figures)}")


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker) -> Iterator[ReplicatedCluster]:
    """The primary and its replica, started, without the database yet (``web`` copies it
    there while its gunicorn boots)."""
    if replica_binaries() is None:
        pytest.skip(REPLICA_MISSING)
    host = connection.settings_dict["HOST"]
    if not host.startswith("/"):
        pytest.skip(f"the replica tests copy the embedded server's database, not {host}")
    pair = ReplicatedCluster(
        like=host,
        cache=Path(host).parent / "pg-initdb",
        primary_port=PRIMARY_PORT,
        replica_port=REPLICA_PORT,
    )
    try:
        pair.start()
        yield pair
    finally:
        pair.cleanup()


@pytest.fixture(scope="module")
def _replica(cluster) -> StreamingReplica:
    return cluster.replica


@pytest.fixture
def replica(cluster, _replica) -> StreamingReplica:
    """The replica, running and caught up (a test may leave it stopped)."""
    if not _replica.running():
        _replica.start()
    cluster.wait_replayed()
    return _replica


@pytest.fixture(scope="module")
def tokens(django_db_setup, django_db_blocker) -> dict[str, str]:
    """Per tenant: its owner (who writes and then reads), its viewer (who only reads) and
    its member (who writes rows whose writer never reads them)."""
    from shared_apps.accounts.models import User
    from tenants.models import Tenant

    with django_db_blocker.unblock():
        found = {}
        for subdomain, schema in TENANTS.items():
            tenant = Tenant.objects.get(schema_name=schema)
            for role in ("owner", "viewer", "member"):
                user = User.objects.get(email=f"{role}@{subdomain}.test")
                found[f"{role}@{subdomain}"] = tenant_token_pair(user=user, tenant=tenant)["access"]
        return found


@dataclass
class Web:
    server: Gunicorn
    tokens: dict[str, str]

    @property
    def log(self) -> Path:
        return self.server.log

    def call(
        self, method: str, path: str, subdomain: str, who: str, body: dict | None = None
    ) -> tuple[int, dict | bytes]:
        host = f"{subdomain}.localhost" if subdomain else "localhost"
        token = self.tokens[who] if who else None
        status, raw = http_call(WEB_PORT, method, path, host, token=token, body=body)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def probe(self, subdomain: str, who: str | None = None) -> dict:
        status, body = self.call("GET", PROBE, subdomain, who or f"viewer@{subdomain}")
        assert status == 200, (status, body, self.server.log_text()[-3000:])
        assert isinstance(body, dict)
        return body


@pytest.fixture(scope="module")
def web(cluster, tokens, django_db_blocker) -> Iterator[Web]:
    """The gunicorn, once the primary holds a copy of this worker's test database with
    ``SEEDED`` committed products in each tenant, named after it (seeded in the test
    database for the copy only, removed from it right after) and the replica has it."""
    primary = cluster.primary
    name = connection.settings_dict["NAME"]
    environment = web_environment(
        "tests.tenants.replica_settings",
        DATABASE_URL=database_url(
            {"USER": "postgres", "HOST": "127.0.0.1", "PORT": primary.port, "NAME": name}
        ),
        DATABASE_REPLICA_URL=cluster.replica.url(name),
        REPLICA_MAX_LAG_SECONDS=str(MAX_LAG),
        REPLICA_STICKY_SECONDS=str(STICKY),
        REPLICA_CHECK_SECONDS=str(CHECK),
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
    )
    server = Gunicorn(
        environment=environment, log=cluster.directory / "gunicorn.log", port=WEB_PORT
    )
    server.launch()
    try:
        with seeded_products(django_db_blocker, TENANTS, mark="r", count=SEEDED):
            cluster.load(socket_dir=connection.settings_dict["HOST"], database=name)
        server.wait_ready()
        yield Web(server=server, tokens=tokens)
    finally:
        server.stop()


def on_replica(web: Web, subdomain: str = "alpha", timeout: float = 30) -> None:
    """Until the probe is answered by the replica in every worker (the first request for a
    host in a process resolves it on the primary; then a lag check every CHECK s)."""
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 8:
        streak = streak + 1 if web.probe(subdomain)["in_recovery"] else 0
        if time.monotonic() > deadline:
            pytest.fail(f"reads never reached the replica:\n{web.server.log_text()[-3000:]}")
        time.sleep(0.02)


def _paused_while_fresh(cluster: ReplicatedCluster) -> float:
    """Pause replay right after the replica caught up with a fresh commit; returns the
    monotonic time of that commit (the replica's lag grows from there while paused)."""
    committed_at = time.monotonic()
    # A committed write (a transaction that writes nothing but its commit record commits
    # asynchronously, so its flush could come after the pause): a fresh replay timestamp.
    cluster.primary.query(
        "CREATE TABLE IF NOT EXISTS replica_test_clock (at timestamptz);"
        " INSERT INTO replica_test_clock VALUES (clock_timestamp())"
    )
    cluster.wait_replayed()
    cluster.replica.pause_replay()
    return committed_at


def _names(body) -> list[str]:
    return [p["name"] for p in body.get("results", [])] if isinstance(body, dict) else []


def _wrong(subdomain: str, names: list[str]) -> int:
    others = [s for s in TENANTS if s != subdomain]
    return sum(1 for n in names if any(n.startswith(f"{o}-") for o in others))


def _create_product(web: Web, who: str, name: str) -> None:
    """A product written through the app (so on the primary) by ``who``."""
    subdomain = who.split("@")[1]
    status, body = web.call(
        "POST", "/api/v1/products/", subdomain, who, {"name": name, "price": "1.00"}
    )
    assert status == 201, body


# Tests ---------------------------------------------------------------------------------------


def test_reads_are_served_by_the_replica_and_stay_in_their_tenant(web, cluster, replica):
    on_replica(web, "alpha")
    on_replica(web, "beta")
    outcomes: list[tuple[str, int, bool, int]] = []
    lock = threading.Lock()
    # 4 clients, 60 reads of both tenants interleaved over 2 processes x 2 threads (each
    # with its own replica connection): a read in the wrong schema shows in any of them.
    per_client = 15

    def client(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(per_client):
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
        # Measured as the app does (behind the primary's flushed WAL, then the age of the
        # last replayed transaction): only this module writes to the primary, so the lag
        # stays ~0 unless the machine stalls the replica.
        with psycopg.connect(
            host="127.0.0.1",
            port=cluster.primary.port,
            dbname="postgres",
            user="postgres",
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
    assert figures["statuses"] == {200: 4 * per_client}
    # Every read on the replica (bar a few at the start of a lag check), unless the
    # replica really fell behind the bound meanwhile (the lag check's cache: a margin).
    if worst_lag[0] < MAX_LAG - CHECK:
        assert figures["served_by_replica"] >= 4 * per_client - 6, figures
    else:
        assert figures["served_by_replica"] >= 2 * per_client, figures

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


def _stale_read(web: Web, cluster: ReplicatedCluster, attempt) -> tuple:
    """Run ``attempt(committed_at)`` with replay paused right after a fresh commit, up to 5
    times: it returns None when the machine was too slow to keep within the lag bound for
    the read that must see the replica (then it is tried again)."""
    for _ in range(5):
        on_replica(web, "alpha")
        committed_at = _paused_while_fresh(cluster)
        try:
            outcome = attempt(committed_at)
        finally:
            cluster.replica.resume_replay()
        if outcome is not None:
            return outcome
    pytest.fail("five times too slow to read within the lag bound")


def test_reads_see_the_replica_and_a_writer_reads_its_own_writes(web, cluster, replica):
    def attempt(committed_at: float):
        name = f"alpha-w-{uuid.uuid4().hex[:10]}"
        _create_product(web, "owner@alpha", name)
        wrote_at = time.monotonic()
        # Another client of the same tenant, which wrote nothing: the replica, which has
        # not replayed the write (the lag is still within the bound).
        other = web.probe("alpha", "viewer@alpha")
        if time.monotonic() - committed_at > MAX_LAG - 0.3:
            return None  # too slow: the lag may have passed the bound meanwhile
        # The writer itself: the primary, for REPLICA_STICKY_SECONDS.
        mine = web.probe("alpha", "owner@alpha")
        status, body = web.call("GET", "/api/v1/products/?page_size=100", "alpha", "owner@alpha")
        return name, wrote_at, other, mine, status, _names(body)

    name, wrote_at, other, mine, status, names = _stale_read(web, cluster, attempt)
    report(
        "read-your-writes",
        {"other_client_on_replica": other["in_recovery"], "writer_on_replica": mine["in_recovery"]},
    )
    assert other["in_recovery"] is True and other["port"] == REPLICA_PORT, (
        other,
        [
            json.loads(line)["message"]
            for line in web.server.log_text().splitlines()
            if "skipped" in line
        ][-5:],
    )
    assert name not in other["names"]  # the replica had not replayed it
    assert mine["in_recovery"] is False and name in mine["names"]
    assert status == 200 and name in names
    # Once the window has passed (and the replica caught up), the writer is back on it.
    cluster.wait_replayed()
    back = web.probe("alpha", "owner@alpha")
    while not back["in_recovery"] and time.monotonic() - wrote_at < STICKY + CHECK + 3:
        time.sleep(0.05)
        back = web.probe("alpha", "owner@alpha")
    assert back["in_recovery"] is True and name in back["names"]


def test_a_replica_lagging_past_the_bound_is_skipped(web, cluster, replica):
    def attempt(committed_at: float):
        name = f"alpha-lag-{uuid.uuid4().hex[:10]}"
        _create_product(web, "member@alpha", name)  # the viewer below wrote nothing
        within = web.probe("alpha")
        if time.monotonic() - committed_at > MAX_LAG - 0.3:
            return None
        # Past the bound plus one check interval: every process's next check sees the
        # lag, and every read goes to the primary.
        while time.monotonic() - committed_at < MAX_LAG + CHECK + 0.2:
            time.sleep(0.02)
        past = [web.probe("alpha") for _ in range(6)]
        lag = replica.query(
            "SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
        )[0][0]
        return name, within, past, float(lag)

    name, within, past, lag = _stale_read(web, cluster, attempt)
    report("lag", {"replica_lag_seconds": round(lag, 1), "bound": MAX_LAG})
    assert lag > MAX_LAG
    assert within["in_recovery"] is True and name not in within["names"]
    assert all(p["in_recovery"] is False and name in p["names"] for p in past)
    # Replay resumed: the replica catches up and serves again, with the row.
    cluster.wait_replayed()
    on_replica(web, "alpha")
    assert name in web.probe("alpha")["names"]


def test_a_replica_that_dies_then_returns(web, cluster, replica):
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
            # When the request was sent: one sent before the kill may be answered by the
            # replica after it (a slow response), never one sent after.
            sent = time.monotonic() - started
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
                        sent,
                        subdomain,
                        status,
                        body["in_recovery"] if ok else None,
                        wrong,
                    )
                )

    def served(count: int, since: float) -> bool:
        with lock:
            return sum(1 for o in outcomes if o[0] > since and o[3]) >= count

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while not served(8, 0):  # the load runs, on the replica
            assert time.monotonic() < deadline, "no reads on the replica"
            time.sleep(0.02)
        killed_at = time.monotonic() - started
        replica.stop("immediate")  # every backend gone at once, mid-query
        time.sleep(4 * CHECK + 0.3)  # down for several lag checks of every process
        restarted_at = time.monotonic() - started
        replica.start()
        deadline = time.monotonic() + 30
        while not served(8, restarted_at):
            assert time.monotonic() < deadline, "reads never returned to the replica"
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    # Sent after every process's lag check has had its turn to see the replica gone.
    down = [o for o in outcomes if killed_at + CHECK + 0.3 < o[0] < restarted_at]
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
        Path(os.environ["TESSERA_KEEP_WEB_LOG"]).write_text(web.server.log_text())
    assert figures["wrong_tenant_rows"] == 0
    assert set(figures["statuses"]) == {200}, [
        line for line in web.server.log_text().splitlines() if '"ERROR"' in line
    ][-3:]
    assert down and figures["while_down_on_replica"] == 0
    assert figures["after_restart_on_replica"] >= 8


def test_writes_and_the_public_host_stay_on_the_primary(web, cluster, replica):
    on_replica(web, "alpha")
    # A write request runs on the primary whatever its reads.
    name = f"alpha-p-{uuid.uuid4().hex[:10]}"
    _create_product(web, "owner@alpha", name)
    # The platform's host (admin, sign-up) never uses the replica: its login page works
    # with the replica stopped, and nothing there was rerouted. (The ``replica`` fixture
    # starts it again for the next test.)
    replica.stop("fast")
    status, _ = web.call("GET", "/admin/login/", "", "")
    assert status in (200, 302)  # the admin's sign-in (or its MFA step), not a 5xx
    body = web.probe("alpha")
    assert body["in_recovery"] is False and name in body["names"]
