"""Gunicorn settings for the web process: ``gunicorn -c gunicorn.conf.py config.wsgi``.

Everything that depends on the size of the container comes from the environment, so one
image serves every environment. Threads (gthread) let a worker keep serving while one
request waits on PostgreSQL or Redis; workers are recycled after ``max_requests`` (with
jitter, so they do not all restart at once) to bound slow memory growth.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# A request running longer than this is killed and its worker replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)  # ECS stopTimeout is 30 s
# Longer than the load balancer's idle timeout (60 s), so the balancer, never gunicorn,
# closes idle keep-alive connections (no 502 on a connection closed under it).
keepalive = _int("GUNICORN_KEEPALIVE", 75)
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)
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
