from config.settings._embedded_or_env import DATABASES, REDIS_URL
from config.settings.base import *  # noqa: F403
from config.settings.base import cache_settings, celery_broker_url, env

ROOT_DOMAIN = "localhost"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = cache_settings(REDIS_URL)
# xdist workers share one Redis but each has its own database, where the same schemas
# (t_alpha, t_beta) hold different rows: each worker's keys (and those of the Celery
# workers it starts, which inherit its environment) carry its name.
_XDIST_WORKER = env("PYTEST_XDIST_WORKER", default="")
if _XDIST_WORKER:
    for _alias in CACHES.values():
        _alias["KEY_PREFIX"] = f"{_alias.get('KEY_PREFIX', '')}{_XDIST_WORKER}"
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Three: seed_demo's three tenants (tests/tenants/test_commands.py) each take a spare
# instead of the third migrating a schema (seconds); the pool is built by copying.
TENANT_SPARE_SCHEMAS = 3
# Tests measure behaviour, not rate limits; throttling has its own tests that lower these.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        "user": "100000/min",
        "anon": "100000/min",
        "signup": "100000/min",
        "login": "100000/min",
    },
}
# Likewise for the login lockout (tests/ops lowers it); its counts are shared by every
# test run on the same Redis.
LOGIN_LOCKOUT = {**LOGIN_LOCKOUT, "ACCOUNT_FAILURES": 100000, "IP_FAILURES": 100000}  # noqa: F405
# allauth's own rate limits too (our lockout, tested on its own, replaces login_failed).
ACCOUNT_RATE_LIMITS = False
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Lets several test runs share one PostgreSQL server (e.g. parallel checkouts).
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_tessera")}
# The delivery tests send to a receiver on 127.0.0.1; the SSRF tests turn this off.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True
