"""The pooler tests' gunicorn: production settings, plus the probe views of
``tests.tenants.pooler_urls``. Never deploy this."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "tests.tenants.pooler_urls"
