"""A real Celery worker for the background-work tests, on the test database.

The worker is a separate process (prefork pool), so acks_late, reject_on_worker_lost and
SIGKILL behave as in production. It is forked from the session's ``Zygote`` (a process
that imported Django, the app and the tasks once: a worker is up in about a second), or
started afresh (``python -m tests.celery_support``) when its environment holds settings
a fork cannot take. It connects
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
import atexit
import contextlib
import gc
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
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


class Forked:
    """A worker process forked by the ``Zygote``: what ``subprocess.Popen`` offers the
    tests (``pid``, ``returncode``, ``poll()``, ``wait()``), its exit status as reported
    by the zygote, its parent."""

    def __init__(self, pid: int, zygote: Zygote) -> None:
        self.pid = pid
        self._zygote = zygote

    @property
    def returncode(self) -> int | None:
        return self._zygote.exits.get(self.pid)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._zygote.changed:
            if not self._zygote.changed.wait_for(
                lambda: self.pid in self._zygote.exits or self._zygote.gone, timeout
            ):
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
        if self.pid not in self._zygote.exits:
            raise RuntimeError(f"the zygote died before reporting worker {self.pid}")
        return self._zygote.exits[self.pid]


class Zygote:
    """One process per test session that imports Django, the app and its tasks once
    (``python -m tests.celery_support --zygote``), then forks a worker whenever asked:
    a worker is up in a fraction of a second instead of the seconds of CPU that the
    imports cost every fresh process (gunicorn's ``preload_app``, for Celery workers).

    A forked worker is a real, separate ``celery worker`` process (prefork pool, its own
    session, SIGKILL as usual). Its environment is applied in the fork by re-reading the
    settings modules, which reaches the settings read at call time; ``FORKABLE_ENV``
    names the variables known to be such. A worker whose environment differs from the
    zygote's in anything else (``DATABASE_URL``, Stripe's keys, a setting a task decorator
    reads at import) is a fresh process instead, without being asked.

    Protocol: one JSON line per request on its stdin (``{"argv", "env", "log"}``), one
    JSON line per answer on its stdout (``{"pid"}``), and ``{"exit", "code"}`` whenever a
    worker has exited. It exits when its stdin closes (this process gone)."""

    def __init__(self) -> None:
        self.environment = {**os.environ, **WORKER_BASE_ENV}
        handle, path = tempfile.mkstemp(prefix="tessera-zygote-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.celery_support", "--zygote"],
                cwd=BASE_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env=self.environment,
            )
        self.exits: dict[int, int] = {}
        self.gone = False
        self.changed = threading.Condition()
        self._answers: list[dict] = []
        self._ready = False
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            with self.changed:
                if "exit" in message:
                    self.exits[message["exit"]] = message["code"]
                elif "ready" in message:
                    self._ready = True
                else:
                    self._answers.append(message)
                self.changed.notify_all()
        with self.changed:
            self.gone = True
            self.changed.notify_all()

    def fork(self, *, argv: list[str], env: dict[str, str], log: Path, timeout: float) -> Forked:
        with self._lock:
            with self.changed:
                if not self.changed.wait_for(lambda: self._ready or self.gone, timeout):
                    raise AssertionError(f"zygote not ready after {timeout}s: {self.log()}")
                if self.gone:
                    raise AssertionError(f"the zygote is gone: {self.log()}")
            assert self.process.stdin is not None
            request = {"argv": argv, "env": env, "log": str(log)}
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            with self.changed:
                if not self.changed.wait_for(lambda: self._answers or self.gone, timeout):
                    raise AssertionError(f"the zygote did not fork: {self.log()}")
                if self.gone:
                    raise AssertionError(f"the zygote is gone: {self.log()}")
                return Forked(self._answers.pop(0)["pid"], self)

    def log(self) -> str:
        return self.log_path.read_bytes()[-3000:].decode(errors="replace")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        if not os.environ.get("TESSERA_KEEP_WORKER_LOGS"):
            self.log_path.unlink(missing_ok=True)


_zygote: Zygote | None = None


def zygote() -> Zygote:
    """This session's zygote, started on first use (it boots while the caller goes on):
    when pytest imports this module, so that it boots while the session database is set
    up."""
    global _zygote
    if _zygote is None:
        _zygote = Zygote()
        atexit.register(_zygote.stop)
    return _zygote


# Every worker's environment. Django's system checks (Celery's worker runs them when it
# starts: half a second of CPU and a few queries) are the checks' own tests' business.
WORKER_BASE_ENV = {"CELERY_SKIP_CHECKS": "1"}
# Environment variables whose settings are read when used (not at import), so a forked
# worker honours them: see ``Zygote``.
FORKABLE_ENV = frozenset(
    {
        "CELERY_SKIP_CHECKS",
        "STRIPE_MAX_NETWORK_RETRIES",
        "WEBHOOK_DISABLE_AFTER",
        "WEBHOOK_ENDPOINT_CONCURRENCY",
        "WEBHOOK_LEASE_SECONDS",
        "WEBHOOK_RETRY_JITTER",
        "WEBHOOK_RETRY_SCHEDULE",
        "WEBHOOK_TIMEOUT",
    }
)


class Worker:
    """A ``celery worker`` process on the test database, logging to a file: forked by the
    session's ``Zygote`` (``fork=True``), or a fresh ``python -m tests.celery_support``."""

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
        fork: bool = True,
    ) -> None:
        """``env``: environment variables of the worker process on top of this one's (the
        settings read from the environment, e.g. ``WEBHOOK_RETRY_SCHEDULE``); ``fork``:
        forked by the zygote when its environment allows (see ``Zygote``), else fresh."""
        self.env = {**WORKER_BASE_ENV, **(env or {})}
        self.fork = fork
        self.queues = queues
        self.include = include
        self.database = database
        self.prefix = prefix
        self.concurrency = concurrency
        self.visibility_timeout = visibility_timeout
        handle, path = tempfile.mkstemp(prefix="tessera-worker-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)
        self.process: subprocess.Popen | Forked | None = None

    def start(self, timeout: float = 30) -> Worker:
        argv = [
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
            argv += ["--visibility-timeout", str(self.visibility_timeout)]
        offset = self.log_path.stat().st_size
        environment = {**os.environ, **self.env}
        forker = zygote() if self.fork else None
        changed = {
            name: value
            for name, value in environment.items()
            if (forker is None or forker.environment.get(name) != value)
            and name != "PYTEST_CURRENT_TEST"  # (pytest's, different in every test)
        }
        if (
            forker is not None
            and set(forker.environment) - {"PYTEST_CURRENT_TEST"} <= set(environment)
            and set(changed) <= FORKABLE_ENV
        ):
            self.process = forker.fork(argv=argv, env=changed, log=self.log_path, timeout=timeout)
        else:
            if forker is not None:  # (why not, for whoever reads the log)
                unforkable = sorted(set(changed) - FORKABLE_ENV) or ["(a variable removed)"]
                with open(self.log_path, "a") as log:
                    log.write(f"a fresh process, not forked: {', '.join(unforkable)}\n")
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "tests.celery_support", *argv],
                    cwd=BASE_DIR,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=environment,
                )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the worker exited ({process.returncode}):\n{self.log()}")
            return " ready." in self.log(offset)

        wait_for(ready, timeout=timeout, what="worker ready")
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
        zygote()  # boots while the rest of the session's setup goes on
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


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zygote", action="store_true")
    parser.add_argument("--database")
    parser.add_argument("--prefix")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--queues", default="default,billing,bulk")
    parser.add_argument("--visibility-timeout", type=float, default=None)
    parser.add_argument("--include", default="tests.background_tasks")
    return parser.parse_args(argv)


def _set_up_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["TESSERA_TEST_RECORD_AFTER"] = "1"
    import django

    django.setup()


def _apply_environment(env: dict[str, str]) -> None:
    """In a forked worker: ``env`` into the environment, and the settings it changes into
    Django's settings (the settings modules read again, as a fresh process would)."""
    import importlib

    from django.conf import settings

    os.environ.update(env)
    import config.settings.base
    import config.settings.test

    importlib.reload(config.settings.base)
    fresh = importlib.reload(config.settings.test)
    for name in dir(fresh):
        if name.isupper() and getattr(settings, name, None) != getattr(fresh, name):
            setattr(settings, name, getattr(fresh, name))


def _run_zygote() -> None:
    """Import everything once, then fork a worker per request (see ``Zygote``)."""
    import importlib
    import random

    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints go to the zygote's log, not into the answers
    _set_up_django()
    from django.db import connections

    from config.celery import app

    # What a worker imports when it starts, so that each fork does not.
    for module in (
        "celery.bin.celery",  # the command line (click and its REPL): a second of imports
        "celery.bin.worker",
        "celery.apps.worker",
        "celery.worker.consumer",
        "celery.concurrency.prefork",
        "kombu.transport.redis",
        "tests.background_tasks",
    ):
        importlib.import_module(module)
    app.loader.import_default_modules()
    assert not [c for c in connections.all(initialized_only=True) if c.connection]
    answers.write(json.dumps({"ready": True}) + "\n")
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 0.05)
        with contextlib.suppress(ChildProcessError):
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if not pid:
                    break
                answers.write(
                    json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n"
                )
        if not readable:
            continue
        line = sys.stdin.readline()
        if not line:
            return  # the test session is gone
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.setsid()
                log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.close(log)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
                answers.close()
                random.seed()
                _apply_environment(request["env"])
                _run_worker(_parse(request["argv"]))
                code = 0
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        answers.write(json.dumps({"pid": pid}) + "\n")


def _run_worker(args: argparse.Namespace) -> None:
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["default"]["NAME"] = args.database
    for wrapper in connections.all(initialized_only=True):  # (none opened a connection)
        wrapper.settings_dict["NAME"] = args.database
    from config.celery import app

    configure_app(app, prefix=args.prefix, visibility_timeout=args.visibility_timeout)
    app.conf.include = [*app.conf.include, *args.include.split(",")]
    # billiard runs a full garbage collection before it forks each pool process: over
    # everything Django and the app imported, most of a second each. What exists now
    # lives as long as the worker: out of the collector's sight.
    gc.freeze()
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


def main(argv: list[str] | None = None) -> None:
    """Run a worker on ``--database`` under Redis key prefix ``--prefix`` (or, with
    ``--zygote``, the zygote that forks them)."""
    args = _parse(argv)
    if args.zygote:
        _run_zygote()
        return
    from django.conf import settings

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    settings.DATABASES["default"]["NAME"] = args.database
    _set_up_django()
    _run_worker(args)


if __name__ == "__main__":
    main()
elif "pytest" in sys.modules and not os.environ.get("TESSERA_NO_ZYGOTE"):
    zygote()  # see zygote()
