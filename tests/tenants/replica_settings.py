"""The read-replica tests' gunicorn: production settings (``DATABASE_REPLICA_URL`` from the
environment), plus the probe view of ``tests.tenants.replica_urls``. Never deploy this."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "tests.tenants.replica_urls"
