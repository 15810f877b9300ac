"""Real servers and a real load generator for the HTTP figures of ``make bench``.

Two gunicorn servers run side by side on 127.0.0.1, both with ``gunicorn.conf.py`` (as
deployed: two sync workers per CPU, ``default_workers``; ``GUNICORN_WORKERS`` /
``GUNICORN_THREADS`` in the bench's own environment are passed on, to compare) and the
production settings, on the benchmark's database and data: one with Tessera's tenancy
(``config.settings.production``), one with tenancy switched off
(``tests.benchmarks.settings.notenancy``). ``wrk`` loads one at a time, in
alternating order, with 8 concurrent clients, each request on a new connection (see
``bench_http``). Worker recycling (``max_requests``) is switched
off for both: at these rates the deployed setting would restart a worker about once a
minute, and a run that caught one would measure Django's start-up instead of requests.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
WRK_MISSING = (
    "wrk is not installed: the requests/s and latency figures are skipped. "
    "Install it with `apt-get install -y wrk` (Debian/Ubuntu) and run `make bench` again."
)


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def default_workers() -> int:
    """The worker count ``gunicorn.conf.py`` gives the servers without GUNICORN_WORKERS."""
    import runpy

    return int(runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"])


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    host, port = settings_dict.get("HOST") or "", settings_dict.get("PORT")
    name = settings_dict["NAME"]
    if host.startswith("/"):  # a Unix socket directory (the embedded server)
        return f"postgresql://{user}:{password}@/{name}?host={quote(host, safe='/')}"
    return f"postgresql://{user}:{password}@{host}:{port or 5432}/{name}"


_next_port = [int(os.environ.get("TESSERA_BENCH_WEB_PORT", "0"))]


def free_port() -> int:
    """A free port on 127.0.0.1; from ``TESSERA_BENCH_WEB_PORT`` upwards when it is set (a
    shared machine where each user keeps to a range)."""
    if _next_port[0]:
        _next_port[0] += 1
        return _next_port[0] - 1
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(settings_module: str, port: int, extra: dict[str, str]) -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": settings_module,
        # The bench process's own key: tokens carry a password fingerprint keyed on it.
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "ROOT_DOMAIN": settings.ROOT_DOMAIN,
        "SECURE_SSL_REDIRECT": "false",
        # The throttle still runs (as deployed) but never trips. Per second, so that the
        # single benchmark user's request history stays as short as a real user's would.
        "THROTTLE_USER_RATE": "1000000/s",
        "PORT": str(port),
        "GUNICORN_MAX_REQUESTS": "0",
        **{k: v for k, v in os.environ.items() if k in ("GUNICORN_WORKERS", "GUNICORN_THREADS")},
        **extra,
    }


def _ready(server: Server) -> bool:
    request = urllib.request.Request(server.url("/healthz"), headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start(name: str, settings_module: str, log_dir: Path, **extra: str) -> Server:
    port = free_port()
    log = log_dir / f"gunicorn-{name}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",  # never anything but loopback
                "config.wsgi:application",
            ],
            cwd=ROOT,
            env=_environment(settings_module, port, extra),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(name=name, port=port, process=process, log=log)
    deadline = time.monotonic() + 60
    while not _ready(server):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"gunicorn ({name}) did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return server


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextlib.contextmanager
def servers(log_dir: Path, tenant_schema: str) -> Iterator[dict[str, Server]]:
    """The three servers (Tessera, tenancy off, the plain-Django ceiling), started
    together and stopped on exit."""
    started: dict[str, Server] = {}
    try:
        started["tessera"] = start("tessera", "config.settings.production", log_dir)
        started["baseline"] = start(
            "baseline",
            "tests.benchmarks.settings.notenancy",
            log_dir,
            BENCH_TENANT_SCHEMA=tenant_schema,
        )
        # The ceiling: the same rows from a plain-Django view (tests/benchmarks/ceiling.py).
        started["ceiling"] = start(
            "ceiling",
            "tests.benchmarks.settings.ceiling",
            log_dir,
            BENCH_TENANT_SCHEMA=tenant_schema,
        )
        yield started
    finally:
        for server in started.values():
            stop(server)


def get(server: Server, path: str, *, host: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        server.url(path), headers={"Host": host, "Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# wrk ------------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY_RE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TOTAL_RE = re.compile(r"^\s+(\d+) requests in", re.M)
_NON2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> dict:
    """Requests/s, total requests, errors and the latency percentiles (ms) of a
    ``wrk --latency`` run."""
    rps = _RPS_RE.search(output)
    total = _TOTAL_RE.search(output)
    if not rps or not total:
        raise ValueError(f"unexpected wrk output:\n{output}")
    latency = {f"p{p}_ms": float(v) * _UNITS[u] for p, v, u in _LATENCY_RE.findall(output)}
    non2xx = _NON2XX_RE.search(output)
    sockets = _SOCKET_RE.search(output)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, sockets.groups())) if sockets else 0,
        **latency,
    }


def wrk(
    server: Server,
    path: str,
    *,
    host: str,
    token: str,
    seconds: float,
    connections: int = 8,
    threads: int = 1,
    reconnect: bool = False,
) -> dict:
    """One wrk run against ``server``; fails if any response was not 2xx. ``reconnect``:
    every request on a new connection (``Connection: close``)."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-H",
        f"Host: {host}",
        "-H",
        f"Authorization: Bearer {token}",
        *(["-H", "Connection: close"] if reconnect else []),
        server.url(path),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    result = parse_wrk(completed.stdout)
    if result["non_2xx"] or result["socket_errors"]:
        raise RuntimeError(
            f"{server.name} {path}: {result['non_2xx']} non-2xx responses, "
            f"{result['socket_errors']} socket errors; see {server.log}"
        )
    return result
