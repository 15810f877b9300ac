"""Production: every secret comes from the environment, with no default."""

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    cache_settings,
    celery_broker_url,
    database_from_url,
    env,
    finish_database,
)

SECRET_KEY = env("SECRET_KEY")
ROOT_DOMAIN = env("ROOT_DOMAIN").lower()
DATABASES = {"default": finish_database(database_from_url(env("DATABASE_URL")))}
REDIS_URL = env("REDIS_URL")
CACHES = cache_settings(REDIS_URL)
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
DEBUG = False

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
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = [f"https://{ROOT_DOMAIN}", f"https://*.{ROOT_DOMAIN}"]
