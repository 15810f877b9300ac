"""A real PgBouncer (Debian's ``pgbouncer``) in transaction mode, in front of the test
database on the embedded PostgreSQL.

``PgBouncer`` writes a private configuration (trust auth over 127.0.0.1, the embedded
server's Unix socket directory as the upstream host), starts the binary in the
foreground and can restart or stop it. Ports come from the caller (the pooler tests use
their own range). When the suite runs as root, PgBouncer (which refuses to run as root)
runs as the user that owns the embedded PostgreSQL's socket directory.

``pgbouncer_binary()`` finds it, or returns None (the tests then skip with the reason:
``apt-get install -y pgbouncer``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PGBOUNCER_MISSING = (
    "pgbouncer is not installed: the transaction-pooler tests need Debian's pgbouncer "
    "(apt-get install -y pgbouncer; .ci/run installs it)"
)


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer")
    if found:
        return found
    for candidate in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PgBouncer:
    """One PgBouncer process: ``start()``, ``restart()``, ``stop()``; ``url(database)``."""

    def __init__(
        self,
        *,
        port: int,
        upstream_socket_dir: str,
        upstream_port: int = 5432,
        pool_size: int = 3,
        max_client_conn: int = 200,
        query_wait_timeout: int = 30,
        server_check_delay: int = 0,
        unix_socket: bool = False,
        user: str = "postgres",
    ) -> None:
        """``server_check_delay`` 0 (the tests): PgBouncer checks a server connection
        (``SELECT 1``) before every transaction it hands out, so a killed one is noticed at
        once; 30 is PgBouncer's default and the deployed setting (the benchmark).
        ``unix_socket``: also listen on a Unix socket in its directory (``socket_url``)."""
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError(PGBOUNCER_MISSING)
        self.binary = binary
        self.port = port
        self.user = user
        self.directory = Path(tempfile.mkdtemp(prefix=f"tessera-pgbouncer-{port}-"))
        os.chmod(self.directory, 0o777)  # the user it may run as writes its pid file here
        self.log_path = self.directory / "pgbouncer.log"
        self.process: subprocess.Popen | None = None
        self.run_as: str | None = None
        if os.getuid() == 0:
            self.run_as = pwd.getpwuid(os.stat(upstream_socket_dir).st_uid).pw_name
            if self.run_as == "root":
                self.run_as = "nobody"
        (self.directory / "users.txt").write_text(f'"{user}" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={upstream_socket_dir} port={upstream_port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {port}",
                    f"unix_socket_dir = {self.directory if unix_socket else ''}",
                    "auth_type = trust",
                    f"auth_file = {self.directory / 'users.txt'}",
                    f"admin_users = {user}",
                    "pool_mode = transaction",
                    f"default_pool_size = {pool_size}",
                    "min_pool_size = 0",
                    "reserve_pool_size = 0",
                    f"max_client_conn = {max_client_conn}",
                    f"query_wait_timeout = {query_wait_timeout}",
                    "server_reset_query =",
                    f"server_check_delay = {server_check_delay}",
                    "ignore_startup_parameters = extra_float_digits",
                    f"logfile = {self.log_path}",
                    f"pidfile = {self.directory / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        for path in self.directory.iterdir():
            os.chmod(path, 0o644)
        self.log_path.touch()
        os.chmod(self.log_path, 0o666)

    def url(self, database: str, **query: str) -> str:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}" + (
            f"?{params}" if params else ""
        )

    def socket_url(self, database: str) -> str:
        """The same PgBouncer over its Unix socket (``unix_socket=True``)."""
        return f"postgresql://{self.user}@/{database}?host={self.directory}&port={self.port}"

    def start(self, timeout: float = 10) -> PgBouncer:
        self.process = subprocess.Popen(
            [self.binary, str(self.directory / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=self.run_as,
        )
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start:\n{self.log()[-2000:]}")
            time.sleep(0.02)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: PgBouncer's immediate shutdown (every client and server connection
        dropped at once)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        deadline = time.monotonic() + 5
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def admin(self, command: str) -> list[tuple]:
        """Run a command on PgBouncer's admin console (``SHOW POOLS``, ...)."""
        import psycopg

        with psycopg.connect(
            self.url("pgbouncer"), autocommit=True, cursor_factory=psycopg.ClientCursor
        ) as conn:
            cursor = conn.execute(command)
            return cursor.fetchall() if cursor.description else []
