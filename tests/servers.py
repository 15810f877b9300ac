"""Real server processes started by the tests: gunicorn with the production settings
(plus a test URLconf), on a free port of 127.0.0.1.

``Gunicorn`` is the one place that starts the web process for the pooler and replica
tests (``tests/tenants/test_pooler.py``, ``tests/tenants/test_replicas.py``). It runs
``gunicorn.conf.py`` as deployed, with ``--preload``: the application is imported once in
the master and forked into the workers (one Django start-up instead of one per worker,
about a second of CPU each on a busy machine); nothing the application opens at import
(no database or Redis connection) is shared across the fork.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_from(variable: str) -> int:
    """``$variable`` when it is set (a shared machine where each user keeps to a range),
    else a free port."""
    value = os.environ.get(variable)
    return int(value) if value else free_port()


def web_environment(settings_module: str, **extra: str) -> dict[str, str]:
    """The environment of a test gunicorn: ``settings_module`` (production settings plus
    a test URLconf), the same keys as this process (tokens issued here carry a password
    fingerprint keyed on SECRET_KEY and are signed with JWT_SIGNING_KEY), this process's
    Redis, throttling out of the way; ``extra`` on top (DATABASE_URL, GUNICORN_WORKERS...)."""
    from django.conf import settings

    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
        "REDIS_URL": settings.REDIS_URL,
        "ROOT_DOMAIN": "localhost",
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_MAX_REQUESTS": "0",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER_RATE": "1000000/s",
        **extra,
    }


class Gunicorn:
    """One gunicorn (``gunicorn.conf.py``, ``config.wsgi``) on 127.0.0.1:``port``, its
    output in ``log``. ``start()`` returns once ``/healthz`` answers 200; ``stop()``."""

    def __init__(self, *, environment: dict[str, str], log: Path, port: int) -> None:
        self.environment = environment
        self.log = log
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Gunicorn:
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "gunicorn.conf.py",
                    "--preload",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "config.wsgi:application",
                ],
                cwd=ROOT,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers with it: stop() kills the group
            )
        deadline = time.monotonic() + timeout
        while self.healthz() != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)
        return self

    def healthz(self) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/healthz", headers={"Host": "localhost"})
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            conn.close()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGKILL to the master and its workers at once: nothing of theirs is kept, and
        gunicorn's own shutdown (SIGINT) takes seconds of waiting for its workers."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None
