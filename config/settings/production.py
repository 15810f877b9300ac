"""Production: every secret comes from the environment, with no default.

Staging runs these same settings (``config.settings.staging``) with its own values.
"""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    SENTRY_DSN,
    SENTRY_RELEASE,
    SENTRY_TRACES_SAMPLE_RATE,
    cache_settings,
    celery_broker_url,
    database_from_url,
    env,
    finish_database,
    with_replica,
)
from shared_apps.core.observability import sentry_init

# Required: the process refuses to start without them (environ.ImproperlyConfigured).
SECRET_KEY = env("SECRET_KEY")
ROOT_DOMAIN = env("ROOT_DOMAIN").lower()
DATABASES = with_replica({"default": finish_database(database_from_url(env("DATABASE_URL")))})
REDIS_URL = env("REDIS_URL")
CACHES = cache_settings(REDIS_URL)
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
DEBUG = False
# Webhooks never go to http:// or to private addresses in production (SPEC §11).
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False

# HTTPS everywhere: TLS ends at the load balancer, which sends X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The platform admin needs TOTP in production (ADR 0018).
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=True)
CSRF_TRUSTED_ORIGINS = [f"https://{ROOT_DOMAIN}", f"https://*.{ROOT_DOMAIN}"]

# Errors and traces: only when SENTRY_DSN is set. The environment defaults to the name of
# this settings module (production or staging).
SENTRY_ENVIRONMENT = env(
    "SENTRY_ENVIRONMENT",
    default=os.environ.get("DJANGO_SETTINGS_MODULE", "production").rsplit(".", 1)[-1],
)
sentry_init(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    release=SENTRY_RELEASE,
    traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
)
