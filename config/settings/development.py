from config.settings._embedded_or_env import DATABASES, REDIS_URL  # noqa: F401
from config.settings.base import *  # noqa: F403
from config.settings.base import cache_settings, celery_broker_url, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
CACHES = cache_settings(REDIS_URL)
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# A local load test (`wrk` against `make run`, docs/performance.md) uses one token, and
# the production rate (1200/min) would answer it with 429s after a few seconds. Set
# THROTTLE_USER_RATE to try the production rate locally.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],  # noqa: F405
        "user": env("THROTTLE_USER_RATE", default="1000000/min"),
    },
}

# Local receivers (http://localhost:...) may get webhooks in development.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = env.bool("WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", default=True)
