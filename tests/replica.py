"""A real streaming replica of the embedded PostgreSQL, for the read-replica tests.

``StreamingReplica`` takes a base backup of the running embedded server with its own
binaries (``pg_basebackup -R -X stream``: the copy starts as a hot standby streaming from
the primary over its Unix socket), and runs it on 127.0.0.1 at the given port with a data
directory of its own under a temporary directory. It can be stopped (``immediate``: as if
it crashed), started again, and its replay paused and resumed. When the suite runs as
root, the replica runs as the user that owns the primary's data directory (PostgreSQL
refuses to run as root), as pgserver does for the primary.

``replica_binaries()`` finds ``pg_basebackup``, ``pg_ctl`` and ``postgres`` next to the
pgserver postgres binary, or returns None (the tests then skip with ``REPLICA_MISSING``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPLICA_MISSING = (
    "pg_basebackup / pg_ctl / postgres are not next to the embedded PostgreSQL's binary "
    "(pgserver's pginstall/bin): the read-replica tests need them to build a replica"
)


def replica_binaries() -> Path | None:
    try:
        from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    needed = ("pg_basebackup", "pg_ctl", "postgres", "psql")
    if all(os.access(POSTGRES_BIN_PATH / name, os.X_OK) for name in needed):
        return Path(POSTGRES_BIN_PATH)
    return None


class StreamingReplica:
    """One hot standby of the primary whose socket directory is ``primary_socket_dir``."""

    def __init__(self, *, primary_socket_dir: str, port: int) -> None:
        binaries = replica_binaries()
        if binaries is None:
            raise RuntimeError(REPLICA_MISSING)
        self.bin = binaries
        self.port = port
        self.primary_socket_dir = primary_socket_dir
        self.directory = Path(tempfile.mkdtemp(prefix=f"tessera-replica-{port}-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "replica.log"
        self.run_as: str | None = None
        if os.getuid() == 0:
            self.run_as = pwd.getpwuid(os.stat(primary_socket_dir).st_uid).pw_name
            if self.run_as == "root":
                self.run_as = "nobody"
            user = pwd.getpwnam(self.run_as)
            os.chown(self.directory, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self.run_as,
            cwd=self.directory,
        )

    def build(self) -> StreamingReplica:
        done = self._run(
            str(self.bin / "pg_basebackup"),
            "-D",
            str(self.data),
            "-h",
            self.primary_socket_dir,
            "-U",
            "postgres",
            "-R",  # standby.signal + primary_conninfo: a streaming hot standby
            "-X",
            "stream",
            "-c",
            "fast",
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {done.stderr[-2000:]}")
        # Its own port and socket; its own log file (pgserver's is copied with the data).
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.data}'\n"
                "hot_standby = on\n"
                "wal_receiver_status_interval = 1s\n"
            )
        return self

    def start(self, timeout: float = 60) -> None:
        done = self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        if done.returncode != 0:
            raise RuntimeError(f"replica did not start: {done.stderr}\n{self.log()[-2000:]}")
        deadline = time.monotonic() + timeout
        while True:  # accepting queries (hot standby reached consistency)
            try:
                self.query("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: every backend killed at once, as if the server crashed."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def query(self, sql: str, params: tuple = (), database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        ) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def pause_replay(self) -> None:
        self.query("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def replayed(self, lsn: str) -> bool:
        return bool(self.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0][0])

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
