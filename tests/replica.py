"""A real streaming replica for the read-replica tests, of a small primary of its own.

``ReplicatedCluster`` runs two PostgreSQL servers of the embedded PostgreSQL's own
binaries on 127.0.0.1, each with a data directory under one temporary directory: a
*primary* holding a copy of this test run's database (``pg_dump`` of it, loaded once),
and a hot standby streaming from it (``StreamingReplica``). Both start as copies of one
cleanly shut-down cluster (``initdb`` once, kept under the embedded server's ``.local/``
directory; a cold copy is a valid base backup), so building the pair costs two directory
copies instead of a ``pg_basebackup`` of the whole embedded cluster (every xdist worker's
database and the session templates). The replica then follows only the writes of the
tests that use it: the other xdist worker's writes (another database of the embedded
cluster) never make it lag.

The replica can be stopped (``immediate``: as if it crashed), started again, and its
replay paused and resumed. When the suite runs as root, both servers run as the user that
owns the embedded server's data directory (PostgreSQL refuses to run as root), as
pgserver does for the embedded server.

``StreamingReplica.build()`` still makes a replica of any running server by
``pg_basebackup -R -X stream`` over its Unix socket.

``replica_binaries()`` finds the binaries next to the pgserver postgres binary, or returns
None (the tests then skip with ``REPLICA_MISSING``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

REPLICA_MISSING = (
    "pg_basebackup / pg_ctl / postgres are not next to the embedded PostgreSQL's binary "
    "(pgserver's pginstall/bin): the read-replica tests need them to build a replica"
)
NEEDED = ("pg_basebackup", "pg_ctl", "postgres", "psql", "initdb", "pg_dump")
# A small server: two of them run beside the embedded one during the replica tests.
SMALL_SERVER = (
    "shared_buffers = 16MB\n"
    "fsync = off\n"  # throw-away data: a crash of the machine may lose it, nothing else
    "wal_keep_size = 64MB\n"  # the WAL a stopped replica needs when it comes back
    "wal_receiver_status_interval = 1s\n"
    "wal_retrieve_retry_interval = 100ms\n"  # a restarted replica reconnects at once
    "hot_standby = on\n"
)


def replica_binaries() -> Path | None:
    try:
        from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    if all(os.access(POSTGRES_BIN_PATH / name, os.X_OK) for name in NEEDED):
        return Path(POSTGRES_BIN_PATH)
    return None


def _binaries() -> Path:
    binaries = replica_binaries()
    if binaries is None:
        raise RuntimeError(REPLICA_MISSING)
    return binaries


def _run_as(owned: str | Path) -> str | None:
    """Who runs the servers: this user, or (as root) the owner of ``owned``."""
    if os.getuid() != 0:
        return None
    name = pwd.getpwuid(os.stat(owned).st_uid).pw_name
    return "nobody" if name == "root" else name


def _chown(path: Path, run_as: str | None) -> None:
    if run_as is not None:
        user = pwd.getpwnam(run_as)
        os.chown(path, user.pw_uid, user.pw_gid)


class LocalServer:
    """One PostgreSQL server on 127.0.0.1:``port`` whose data directory is ``data`` (also
    its Unix socket directory), its log in ``log_path``."""

    def __init__(self, *, data: Path, port: int, log_path: Path, run_as: str | None) -> None:
        self.bin = _binaries()
        self.data = data
        self.port = port
        self.log_path = log_path
        self.run_as = run_as

    def _run(self, *args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self.run_as,
            cwd=self.data.parent,
            **kwargs,
        )

    def configure(self, extra: str = "") -> None:
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.data}'\n" + SMALL_SERVER + extra
            )

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
            raise RuntimeError(f"postgres did not start: {done.stderr}\n{self.log()[-2000:]}")
        deadline = time.monotonic() + timeout
        while True:  # accepting queries (a hot standby: reached consistency)
            try:
                self.query("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def kill(self, timeout: float = 10) -> None:
        """SIGQUIT to the postmaster (an immediate shutdown, without pg_ctl's start-up of
        its own) and wait for it to be gone: for a throw-away server at the end."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.02)

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: every backend killed at once, as if the server crashed."""
        if self.running():
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

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class StreamingReplica(LocalServer):
    """One hot standby. ``StreamingReplica(primary_socket_dir=..., port=...).build()``
    copies a running server with ``pg_basebackup``; ``ReplicatedCluster`` makes one from
    a cold copy instead."""

    def __init__(
        self,
        *,
        primary_socket_dir: str,
        port: int,
        directory: Path | None = None,
        run_as: str | None = None,
    ) -> None:
        self.primary_socket_dir = primary_socket_dir
        self.own_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix=f"tessera-replica-{port}-"))
        if directory is None:
            run_as = _run_as(primary_socket_dir)
            _chown(self.directory, run_as)
        super().__init__(
            data=self.directory / "replica",
            port=port,
            log_path=self.directory / "replica.log",
            run_as=run_as,
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
        self.configure()
        return self

    def pause_replay(self) -> None:
        self.query("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def replayed(self, lsn: str) -> bool:
        return bool(self.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0][0])

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        if self.own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def initdb_cluster(cache: Path, run_as: str | None) -> Path:
    """A cleanly shut-down, empty cluster (``initdb``) under ``cache``, made once and kept
    (keyed on the server's version); returns its data directory. Never started itself:
    servers run on copies of it."""
    binaries = _binaries()
    version = subprocess.run(
        [str(binaries / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    cache.mkdir(parents=True, exist_ok=True)
    _chown(cache, run_as)
    cluster = cache / f"initdb-{version}"
    with open(cache / "initdb.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cluster / "PG_VERSION").exists():
            building = cache / f"initdb-{version}.building"
            shutil.rmtree(building, ignore_errors=True)
            done = subprocess.run(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(building),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",  # 127.0.0.1 and its own socket only, replication included
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "-N",
                ],
                capture_output=True,
                text=True,
                check=False,
                user=run_as,
            )
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")
            building.rename(cluster)
    return cluster


class ReplicatedCluster:
    """A primary on ``primary_port`` and its streaming replica on ``replica_port``, both
    cold copies of ``initdb_cluster(cache)``; ``start()`` starts them, ``load(...)``
    copies a database of the embedded server into the primary, ``cleanup()`` removes
    everything."""

    def __init__(self, *, like: str, cache: Path, primary_port: int, replica_port: int) -> None:
        """``like``: the embedded server's data directory (as root, its owner runs these)."""
        self.run_as = _run_as(like)
        # On tmpfs when there is one: two servers' files written, copied and removed in
        # memory (throw-away data), not on a disk the other tests are busy with.
        memory = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.directory = Path(
            tempfile.mkdtemp(prefix=f"tessera-replicated-{replica_port}-", dir=memory)
        )
        _chown(self.directory, self.run_as)
        cluster = initdb_cluster(cache, self.run_as)
        self.primary = LocalServer(
            data=self.directory / "primary",
            port=primary_port,
            log_path=self.directory / "primary.log",
            run_as=self.run_as,
        )
        self.replica = StreamingReplica(
            primary_socket_dir=str(self.primary.data),
            port=replica_port,
            directory=self.directory,
            run_as=self.run_as,
        )
        for server in (self.primary, self.replica):
            shutil.copytree(cluster, server.data, symlinks=True)
            _chown_tree(server.data, self.run_as)
        self.primary.configure()
        self.replica.configure(
            f"primary_conninfo = 'host={self.primary.data} port={primary_port} user=postgres'\n"
        )
        (self.replica.data / "standby.signal").touch()
        _chown_tree(self.replica.data, self.run_as)

    def start(self) -> ReplicatedCluster:
        self.primary.start()
        self.replica.start()
        return self

    def load(self, *, socket_dir: str, database: str) -> None:
        """``database`` of the server at ``socket_dir`` copied (``pg_dump``) into a database
        of the same name on the primary; returns once the replica has replayed it."""
        binaries = _binaries()
        self.primary.query(f'CREATE DATABASE "{database}"')
        dump = subprocess.Popen(
            [str(binaries / "pg_dump"), "-h", socket_dir, "-U", "postgres", "-d", database],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        restore = subprocess.run(
            [
                str(binaries / "psql"),
                "-h",
                str(self.primary.data),
                "-p",
                str(self.primary.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-q",
                "-X",
                "-1",
                "-v",
                "ON_ERROR_STOP=1",
            ],
            stdin=dump.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        assert dump.stdout is not None and dump.stderr is not None
        dump.stdout.close()
        dumped = dump.wait(timeout=120)
        dump_errors = dump.stderr.read().decode(errors="replace")
        if dumped != 0 or restore.returncode != 0:
            raise RuntimeError(f"copying {database} failed: {dump_errors}{restore.stderr[-2000:]}")
        self.wait_replayed()

    def primary_lsn(self) -> str:
        return self.primary.query("SELECT pg_current_wal_flush_lsn()::text")[0][0]

    def wait_replayed(self, timeout: float = 30) -> None:
        lsn = self.primary_lsn()
        deadline = time.monotonic() + timeout
        while not self.replica.replayed(lsn):
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.02)

    def cleanup(self) -> None:
        for server in (self.replica, self.primary):
            with contextlib.suppress(Exception):
                server.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent (pg_ctl's postmaster is orphaned)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _chown_tree(path: Path, run_as: str | None) -> None:
    if run_as is None:
        return
    user = pwd.getpwnam(run_as)
    os.chown(path, user.pw_uid, user.pw_gid)
    for top, directories, files in os.walk(path):
        for name in directories + files:
            os.chown(os.path.join(top, name), user.pw_uid, user.pw_gid, follow_symlinks=False)
