"""A real Celery worker for the background-work tests, on the test database.

The worker is a separate process (``python -m tests.celery_support``, prefork pool),
so acks_late, reject_on_worker_lost and SIGKILL behave as in production. It connects
to this run's test database and to the shared (embedded) Redis under a key prefix
unique to this run: other test runs, and a ``make run`` worker on the same Redis,
never see this run's messages, and this worker never sees theirs.

Fixtures (import them into a test module):

* ``celery_prefix`` (session) points this process's Celery app at the private prefix.
* ``worker`` (session) a running worker, shared by every module that uses it.
* ``committed`` DB access without the per-test transaction (a worker only sees
  committed data: conftest's ``committed_db``); cleans the background tables and probe
  rows afterwards. Tests using it are not marked ``django_db`` and do not use ``db``.

Tests using ``worker`` are put on one xdist worker (group ``celery-worker``, see
conftest), so a run starts one Celery worker, not one per xdist worker.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PROBE_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.background_probe (
    id serial PRIMARY KEY, token text NOT NULL, label text NOT NULL,
    seen_schema text, seen_tenant integer, detail text DEFAULT '',
    created timestamptz DEFAULT now())
"""
# Tables of these tests only (in public and the session tenants while the session runs).
PROBE_TABLES = frozenset({"background_probe", "background_after"})
AFTER_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS public.background_after (
    id serial PRIMARY KEY, task_id text, task_name text, schema_name text, search_path text)
"""


# The Django cache lives in Redis database 0, and tests clear it (FLUSHDB): Celery's
# messages and results for tests and benchmarks live in a database of their own.
CELERY_REDIS_DB = 11


def on_redis_db(url: str, db: int) -> str:
    """``url`` (a Redis broker, result or client URL, TCP or Unix socket) pointed at
    database ``db``."""
    base, _, query = url.partition("?")
    params = dict(parse_qsl(query))
    scheme = base.split("://", 1)[0]
    if "socket" in scheme:  # kombu / Celery: redis+socket:///path?virtual_host=N
        params["virtual_host"] = str(db)
    elif scheme == "unix":  # redis-py: unix:///path?db=N
        params["db"] = str(db)
    else:  # redis://host:port/N
        head, _, _ = base.partition("://")
        netloc = base[len(head) + 3 :].split("/", 1)[0]
        base = f"{head}://{netloc}/{db}"
    return f"{base}?{urlencode(params)}" if params else base


def configure_app(
    app: Any,
    *,
    prefix: str,
    visibility_timeout: float | None = None,
    redis_db: int | None = CELERY_REDIS_DB,
) -> None:
    """Point ``app`` (broker and results) at keys under ``prefix`` in ``redis_db`` (None:
    the configured database) and drop pooled connections made with the old settings."""
    from django.conf import settings

    broker = settings.CELERY_BROKER_URL
    app.conf.broker_url = broker if redis_db is None else on_redis_db(broker, redis_db)
    app.conf.result_backend = app.conf.broker_url
    transport = dict(app.conf.broker_transport_options or {})
    transport["global_keyprefix"] = prefix
    if visibility_timeout is not None:
        # Look for unacknowledged messages past the timeout five times a second, and
        # really scan on every look (kombu's default scans on every 10th look only).
        transport["visibility_timeout"] = visibility_timeout
        transport["unacked_restore_interval"] = 0.2
        transport["unacked_restore_throttle"] = 1
    app.conf.broker_transport_options = transport
    app.conf.result_backend_transport_options = {"global_keyprefix": prefix}
    # app.pool is kombu's process-wide pool for the connection's settings, and the
    # producer pools are cached per connection there too: closing one and leaving it in
    # kombu's registry hands the closed pool back to the next switch to those settings
    # ("Acquire on closed pool"). Close and forget them all.
    from kombu import pools

    pools.reset()
    app._pool = None
    with contextlib.suppress(AttributeError):
        del app._local.backend
    with contextlib.suppress(AttributeError):
        app.amqp._producer_pool = None


def redis_client(db: int = CELERY_REDIS_DB) -> Any:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(on_redis_db(settings.REDIS_URL, db))


def purge_prefix(prefix: str, db: int = CELERY_REDIS_DB) -> None:
    """Delete every Redis key of this run (never FLUSHALL: the Redis is shared)."""
    client = redis_client(db)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


class Worker:
    """A ``celery worker`` subprocess on the test database, logging to a file."""

    def __init__(
        self,
        *,
        database: str,
        prefix: str,
        concurrency: int = 2,
        visibility_timeout: float | None = None,
        queues: str = "default,billing,bulk",
        include: str = "tests.background_tasks",
        env: dict[str, str] | None = None,
    ) -> None:
        """``env``: environment variables of the worker process on top of this one's (the
        settings read from the environment, e.g. ``WEBHOOK_RETRY_SCHEDULE``)."""
        # Django's system checks (Celery's worker runs them at start: half a second of
        # CPU and a few queries) are the checks' own tests' business, not every worker's.
        self.env = {"CELERY_SKIP_CHECKS": "1", **(env or {})}
        self.queues = queues
        self.include = include
        self.database = database
        self.prefix = prefix
        self.concurrency = concurrency
        self.visibility_timeout = visibility_timeout
        handle, path = tempfile.mkstemp(prefix="tessera-worker-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Worker:
        command = [
            sys.executable,
            "-m",
            "tests.celery_support",
            "--database",
            self.database,
            "--prefix",
            self.prefix,
            "--concurrency",
            str(self.concurrency),
            "--queues",
            self.queues,
            "--include",
            self.include,
        ]
        if self.visibility_timeout is not None:
            command += ["--visibility-timeout", str(self.visibility_timeout)]
        offset = self.log_path.stat().st_size
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        wait_for(lambda: " ready." in self.log(offset), timeout=timeout, what="worker ready")
        return self

    def log(self, offset: int = 0) -> str:
        return self.log_path.read_bytes()[offset:].decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children, no shutdown at all."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def kill_and_forget(self) -> None:
        """SIGKILL, then remove the log (unless ``TESSERA_KEEP_WORKER_LOGS`` is set)."""
        if self.process is not None and self.process.poll() is None:
            self.kill()
        self.stop()

    def stop(self) -> None:
        """Warm shutdown (SIGKILL after 10 s); the log file goes unless
        ``TESSERA_KEEP_WORKER_LOGS`` is set."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if not os.environ.get("TESSERA_KEEP_WORKER_LOGS"):
            self.log_path.unlink(missing_ok=True)


def wait_for(condition: Callable[[], Any], *, timeout: float = 10, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def probe_rows(schema: str) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT token, label, seen_schema, seen_tenant, detail FROM {schema}.background_probe"
            " ORDER BY id"
        )
        return cursor.fetchall()


def create_probe_tables(schemas: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(PROBE_TABLES_SQL.format(schema=schema))
        cursor.execute(AFTER_TABLE_SQL)


def clear_probe_tables(schemas: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f"TRUNCATE {schema}.background_probe")
        cursor.execute("TRUNCATE public.background_after")


def drop_probe_tables(schemas: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f"DROP TABLE IF EXISTS {schema}.background_probe")
        cursor.execute("DROP TABLE IF EXISTS public.background_after")


def cheap_tenant(subdomain: str, *, status: str = "active") -> Any:
    """A committed tenant whose schema holds only the probe table (no migrations): enough
    for tasks that touch nothing else, and fast. Remove it with ``tenant_destroy``."""
    from django.db import connection

    from billing.selectors import plan_get_for_signup
    from shared_apps.organizations.models import Organization
    from tenants.models import Tenant

    schema = f"t_{subdomain}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
        cursor.execute(PROBE_TABLES_SQL.format(schema=schema))
    return Tenant.objects.create(
        schema_name=schema,
        subdomain=subdomain,
        name=subdomain.title(),
        organization=Organization.objects.create(name=subdomain.title(), slug=subdomain),
        plan=plan_get_for_signup(code="starter"),
        status=status,
    )


PROBE_SCHEMAS = ["public", "t_alpha", "t_beta"]
# The session worker's webhook settings, so that the delivery tests see a retry and a
# timeout in a fraction of the production waits: failed attempts retried every 0.2 s
# (twenty times, without jitter), and an attempt given up after 3 s (the hanging-endpoint
# test must see the other tenant's delivery while the hanging one is still in flight, so
# not much less). Successful deliveries, which every other user of the worker sees, are
# not affected; the lease (30 s) stays above the timeout.
SESSION_WORKER_ENV = {
    "WEBHOOK_RETRY_SCHEDULE": ",".join(["0.2"] * 20),
    "WEBHOOK_RETRY_JITTER": "0",
    "WEBHOOK_TIMEOUT": "3",
}
_shared: dict[str, Any] = {}


@pytest.fixture(scope="session")
def celery_prefix(request, django_db_setup, django_db_blocker) -> str:
    """This run's Redis key prefix, set on the app once per session (modules importing
    this fixture get their own copy of it from pytest, hence the module-level state)."""
    if "prefix" not in _shared:
        from django.db import connection

        from config.celery import app

        assert connection.settings_dict["NAME"].startswith("test"), "not a test database"
        prefix = f"tessera-test:{connection.settings_dict['NAME']}:{uuid.uuid4().hex[:8]}:"
        saved = dict(app.conf.broker_transport_options or {})
        saved_urls = (app.conf.broker_url, app.conf.result_backend)
        configure_app(app, prefix=prefix)
        with django_db_blocker.unblock():
            create_probe_tables(PROBE_SCHEMAS)

        def restore() -> None:
            configure_app(app, prefix=saved.get("global_keyprefix", ""), redis_db=None)
            app.conf.broker_transport_options = saved
            app.conf.broker_url, app.conf.result_backend = saved_urls
            purge_prefix(prefix)
            with django_db_blocker.unblock():
                drop_probe_tables(PROBE_SCHEMAS)

        _shared["prefix"] = prefix
        request.addfinalizer(restore)
    return _shared["prefix"]


@pytest.fixture(scope="session")
def worker(request, celery_prefix) -> Worker:
    """One worker for the whole session, however many modules use it."""
    if "worker" not in _shared:
        from django.db import connection

        _shared["worker"] = Worker(
            database=connection.settings_dict["NAME"], prefix=celery_prefix, env=SESSION_WORKER_ENV
        ).start()
        # Killed, not stopped: nothing is in flight at the end of the session, its queues go
        # with the prefix, and a warm shutdown takes seconds.
        request.addfinalizer(_shared["worker"].kill_and_forget)
    return _shared["worker"]


@pytest.fixture
def committed(committed_db, celery_prefix) -> Iterator[None]:
    """Committed database access; cleans fan-out records and probe rows afterwards."""
    from django.db import connection

    from tenants.background.models import FanoutRun

    # Never let these tests write to a development database by accident.
    assert connection.settings_dict["NAME"].startswith("test"), connection.settings_dict["NAME"]
    clear_probe_tables(PROBE_SCHEMAS)
    yield
    connection.set_schema_to_public()
    FanoutRun.objects.all().delete()
    clear_probe_tables(PROBE_SCHEMAS)


def main(argv: list[str] | None = None) -> None:
    """Run a worker on ``--database`` under Redis key prefix ``--prefix``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--queues", default="default,billing,bulk")
    parser.add_argument("--visibility-timeout", type=float, default=None)
    parser.add_argument("--include", default="tests.background_tasks")
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["TESSERA_TEST_RECORD_AFTER"] = "1"
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = args.database
    import django

    django.setup()
    from config.celery import app

    configure_app(app, prefix=args.prefix, visibility_timeout=args.visibility_timeout)
    app.conf.include = [*app.conf.include, *args.include.split(",")]
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={args.concurrency}",
            f"--queues={args.queues}",
            f"--hostname=test-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ]
    )


if __name__ == "__main__":
    main()
