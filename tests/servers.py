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
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def http_call(
    port: int,
    method: str,
    path: str,
    host: str,
    *,
    token: str | None = None,
    body: dict | None = None,
    conn: http.client.HTTPConnection | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    """One request to the server on 127.0.0.1:``port`` with ``Host: host`` (a Bearer token
    and a JSON body if given), on ``conn`` (kept open) or a connection of its own.
    Returns (status, body); a transport failure is status 0 with the error as the body."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Host": host}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return 0, repr(exc).encode()
    finally:
        if own:
            conn.close()


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
        # Two, not the deployed two per CPU: the suite's servers carry a few requests, and
        # every worker is a Django start-up on the suite's two cores.
        "GUNICORN_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER_RATE": "1000000/s",
        **extra,
    }


class Gunicorn:
    """One gunicorn (``gunicorn.conf.py``, ``config.wsgi``) on 127.0.0.1:``port``, its
    output in ``log``. ``start()`` returns once ``/healthz`` answers 200 (or
    ``launch()``, then ``wait_ready()``); ``stop()``."""

    def __init__(self, *, environment: dict[str, str], log: Path, port: int) -> None:
        self.environment = environment
        self.log = log
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Gunicorn:
        return self.launch().wait_ready(timeout)

    def launch(self) -> Gunicorn:
        """Start the process and return at once (it boots while the caller does other
        work); ``wait_ready()`` then waits for it."""
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
        return self

    def wait_ready(self, timeout: float = 60) -> Gunicorn:
        assert self.process is not None, "launch() first"
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


class CommandRunner:
    """``manage.py`` commands (and Python snippets) in processes forked from one process
    that set Django up once: each run is a fresh process with fresh connections, as
    ``python manage.py ...`` would be, without its second or two of start-up.

    ``environment`` is the runner's (``DATABASE_URL``, ``DJANGO_SETTINGS_MODULE``): the
    settings are read once, when it starts. The runner itself never opens a connection,
    so the children share none. ``start()`` returns at once (the runner boots while the
    caller does other work); ``run(*argv)`` and ``python(code, *argv)`` wait for it and
    return a ``subprocess.CompletedProcess`` (text stdout and stderr)."""

    def __init__(self, *, environment: dict[str, str]) -> None:
        self.environment = environment
        self.process: subprocess.Popen | None = None

    def start(self) -> CommandRunner:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.servers", "--serve-commands"],
            cwd=ROOT,
            env=self.environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def run(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return self._ask({"argv": list(argv)}, timeout)

    def python(self, code: str, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``code`` run as ``__main__`` (``sys.argv[1:]`` = ``argv``), Django set up."""
        return self._ask({"code": code, "argv": list(argv)}, timeout)

    def _ask(self, request: dict, timeout: float) -> subprocess.CompletedProcess:
        import json
        import select

        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the command runner did not answer {request} in {timeout} s")
        reply = json.loads(line)
        return subprocess.CompletedProcess(
            request["argv"], reply["returncode"], reply["stdout"], reply["stderr"]
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the runner ends when its input does
        try:
            self.process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            # Idle, with nothing to keep: not worth the seconds of a Django process's exit.
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None


def _serve_commands() -> None:
    """The runner's loop: one JSON request a line on stdin, one JSON reply a line on
    stdout, each request run in a forked child whose output goes to temporary files."""
    import json
    import tempfile

    import django

    django.setup()
    import django.core.management  # imported once, here, for every child

    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:
                _child(request, out.fileno(), err.fileno())  # never returns
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            err.seek(0)
            reply = {
                "returncode": os.waitstatus_to_exitcode(status),
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"),
            }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def _child(request: dict, out: int, err: int) -> None:
    code = 1
    try:
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
        try:
            if "code" in request:
                sys.argv = ["-c", *request["argv"]]
                exec(request["code"], {"__name__": "__main__"})  # the tests' own code
            else:
                from django.core.management import execute_from_command_line

                execute_from_command_line(["manage.py", *request["argv"]])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(Exception):  # a run under coverage keeps its data
            import coverage

            current = coverage.Coverage.current()
            if current is not None:
                current.stop()
                current.save()
        os._exit(code)


if __name__ == "__main__" and sys.argv[1:] == ["--serve-commands"]:
    _serve_commands()
