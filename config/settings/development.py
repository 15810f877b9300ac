from config.settings._embedded_or_env import DATABASES, REDIS_URL  # noqa: F401
from config.settings.base import *  # noqa: F403
from config.settings.base import cache_settings, celery_broker_url, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
CACHES = cache_settings(REDIS_URL)
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
