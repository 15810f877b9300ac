"""Gunicorn settings for the web process: ``gunicorn -c gunicorn.conf.py config.wsgi``.

Everything that depends on the size of the container comes from the environment, so one
image serves every environment. By default each worker is a single-threaded ``sync``
worker, two per CPU this process may use (its CPU affinity, capped by a cgroup v2 CPU
quota): an API request here is mostly CPU-bound Python, and a sync worker accepts a
connection only when it is free, so requests queue fairly in the kernel instead of piling
up behind the GIL of a busy threaded worker (p99 60-90 ms with 2 sync workers against
150-210 ms with 2 gthread workers x 4 threads on 2 cores, ADR 0013). The second worker
per CPU runs while the first waits on PostgreSQL, Redis or a transaction pooler's hop:
on 2 cores, 4 workers served the same requests/s at the same p99 as 2, and through
PgBouncer 0.92-1.01 of direct against 0.85-0.89 (ADR 0031). ``GUNICORN_THREADS`` > 1
switches to ``gthread`` for a deployment whose requests wait on I/O. Workers are
recycled after ``max_requests`` (with jitter, so they do not all restart at once) to
bound slow memory growth.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = f"0.0.0.0:{_int('PORT', 8000)}"


def usable_cpus(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """CPUs this process may run on: its affinity, capped by a cgroup v2 quota if any."""
    count = len(os.sched_getaffinity(0))
    try:
        with open(cpu_max) as file:
            quota, period = file.read().split()[:2]
        if quota != "max":
            count = min(count, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 CPU controller here: the affinity it is
    return count


workers = _int("GUNICORN_WORKERS", 2 * usable_cpus())
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# A request running longer than this is killed and its worker replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)  # ECS stopTimeout is 30 s
# gthread only (a sync worker answers ``Connection: close``): longer than the load
# balancer's idle timeout (60 s), so the balancer, never gunicorn, closes idle keep-alive
# connections (no 502 on a connection closed under it).
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# A new worker spends about a second of CPU starting Django, during which the others
# carry its load (a latency spike): every 10,000 requests keeps that under 1 % of the
# work while still bounding slow memory growth. 0 switches recycling off.
max_requests = _int("GUNICORN_MAX_REQUESTS", 10_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 1_000)
# Heartbeat files on tmpfs: a container's overlay disk can stall them (false timeouts).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Only the load balancer can reach the containers (security groups), and it sets
# X-Forwarded-Proto/-For: FORWARDED_ALLOW_IPS="*" there; loopback only by default.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# No runtime control socket: nothing uses it, and the image's home is read-only.
control_socket_disable = True

# The application writes one JSON access line per request (logger ``tessera.access``,
# with request id, tenant and user), so gunicorn's own access log stays off. Its error
# log uses the same JSON formatter as the application.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "shared_apps.core.observability.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": loglevel.upper(), "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
}
